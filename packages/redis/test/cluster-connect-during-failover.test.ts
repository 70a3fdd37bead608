import { type PrivateRedisCluster, startPrivateRedisCluster } from '@fleet/services';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRedis, type FleetRedis } from '../src/index.js';

// A `queue`-role connection (BullMQ's) on a private Redis Cluster (3 masters, 1 replica each), reconnected
// while a master failover has the cluster down (cluster_state:fail, between the dead master being marked
// failed and its replica's promotion). BullMQ awaits connect() when it resets a Worker's blocking
// connection (the watchdog of its BZPOPMIN); a connect() that never settles stops that Worker for good: in
// the cluster e2e a shard's queue was never consumed again after the failover.
// Mutation checked: without `enableReadyCheck: false` for the queue role (src/options.ts), the ready check
// meets cluster_state:fail, ioredis reconnects on its own (the client ends up ready) and the promise
// connect() returned stays pending: this test fails on `pending`.
let cluster: PrivateRedisCluster;
const opened: FleetRedis[] = [];

beforeAll(async () => {
  cluster = await startPrivateRedisCluster({ masters: 3, replicas: 1, nodeTimeoutMs: 1000 });
}, 60_000);
afterAll(async () => {
  for (const r of opened) r.disconnect();
  await cluster?.dispose();
});

it('a queue-role cluster connection reconnected during a failover settles connect()', async () => {
  const cfg = { url: cluster.urls[0]!, mode: 'cluster' as const, nodes: cluster.urls, nat_map: {} };
  const queue = createRedis(cfg, 'queue');
  opened.push(queue);
  queue.on('error', () => {});
  await queue.set('{c}k', '1');

  const masters = (await cluster.topology()).filter((n) => n.role === 'master');
  const [dead, alive] = [masters[0]!, masters[1]!];
  const probe = createRedis(
    { url: `redis://127.0.0.1:${alive.port}`, mode: 'standalone', nodes: [], nat_map: {} },
    'admin',
  );
  opened.push(probe);
  probe.on('error', () => {});
  await cluster.node(dead.port).kill();
  // The window that matters: the survivors answer cluster_state:fail until the replica is promoted.
  const deadline = Date.now() + 15_000;
  while (!/cluster_state:fail/.test(String(await probe.call('CLUSTER', 'INFO')))) {
    expect(Date.now(), 'cluster_state:fail never seen after the master kill').toBeLessThan(deadline);
    await new Promise((r) => setTimeout(r, 10));
  }

  // What BullMQ's blocking-connection reset does: disconnect, wait for the end, connect again.
  const ended = new Promise((resolve) => queue.once('end', resolve));
  queue.disconnect();
  await ended;
  const connected = queue.connect().then(
    () => 'resolved',
    (err: Error) => `rejected: ${err.message}`,
  );
  await cluster.waitHealthy(30_000);
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    connected,
    new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('pending'), 10_000);
    }),
  ]);
  clearTimeout(timer);
  // Resolved, or rejected (then the caller's retry goes on): never left pending.
  expect(outcome).not.toBe('pending');
  await queue.set('{c}k', '2');
  expect(await queue.get('{c}k')).toBe('2');
}, 90_000);
