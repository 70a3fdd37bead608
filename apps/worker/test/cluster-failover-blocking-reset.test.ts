import { loadConfigFile } from '@fleet/config';
import { createRedis, masters } from '@fleet/redis';
import { type PrivateRedisCluster, startPrivateRedisCluster } from '@fleet/services';
import { afterAll, expect, it } from 'vitest';
import { writeTestConfig } from '../../../test/helpers/config.js';
import { type AppProcess, spawnApp } from '../../../test/helpers/processes.js';
import { envelope, FleetProbe, jobMessage, sleep, waitUntil } from './helpers.js';

/*
 * A worker process (3 shard Workers) on a private Redis Cluster whose event loop stalls (a loaded box) while
 * its Workers wait on empty queues, and resumes while a master failover has the cluster down
 * (cluster_state:fail). Its late BZPOPMIN watchdogs then reset the Workers' blocking connections right in
 * that window (disconnect, await connect()). Every shard is consumed again once the cluster is whole.
 * This is the cluster e2e's flake (test/e2e/cluster-under-faults: one shard never consumed after the
 * failover), made deterministic: the stall is SIGSTOP, the resume SIGCONT.
 * Mutation checked: the queue role's cluster ready check turned back on (packages/redis options.ts
 * `enableReadyCheck: true`): connect() never settles, every Worker stays waiting, no outcome comes.
 */
const SHARDS = 3;
/** BullMQ's watchdog: the BZPOPMIN timeout (drainDelay, 5 s) plus 1 s; frozen longer than that. */
const FROZEN_MS = 6_500;

let cluster: PrivateRedisCluster | undefined;
let worker: AppProcess | undefined;
let probe: FleetProbe | undefined;
afterAll(async () => {
  worker?.kill('SIGCONT');
  await worker?.stop(5_000).catch(() => undefined);
  await probe?.close().catch(() => {});
  await cluster?.dispose();
}, 60_000);

it('every shard Worker consumes again after its blocking connection was reset during a failover', async () => {
  cluster = await startPrivateRedisCluster({ masters: 3, replicas: 1, nodeTimeoutMs: 1000 });
  const redis = { mode: 'cluster' as const, url: cluster.urls[0]!, nodes: cluster.urls };
  const { path } = await writeTestConfig({
    redis,
    logging: { level: 'info' },
    streams: { shards: SHARDS },
    thread_pools: { work: { workers: 2 } },
  });
  const cfg = loadConfigFile(path, {});
  probe = new FleetProbe(cfg);
  worker = spawnApp('worker', { config: path });
  await worker.waitReady(60_000);

  // Every shard Worker blocked on its empty queue (one BZPOPMIN each, on the masters).
  const blocked = async () => {
    let n = 0;
    for (const m of masters(probe!.redis))
      n += (String(await m.client('LIST')).match(/ cmd=bzpopmin /g) ?? []).length;
    return n;
  };
  await waitUntil(async () => (await blocked()) >= SHARDS, 30_000, 'every shard Worker waiting on its queue');

  const topology = await cluster.topology();
  const live = topology.filter((n) => n.role === 'master');
  const [dead, alive] = [live[0]!, live[1]!];
  const admin = createRedis(
    { url: `redis://127.0.0.1:${alive.port}`, mode: 'standalone', nodes: [], nat_map: {} },
    'admin',
  );
  admin.on('error', () => {});
  try {
    worker.kill('SIGSTOP');
    await sleep(FROZEN_MS); // the fault's length (a stalled process), not a wait for a result
    await cluster.node(dead.port).kill();
    const deadline = Date.now() + 15_000;
    while (!/cluster_state:fail/.test(String(await admin.call('CLUSTER', 'INFO')))) {
      expect(Date.now(), 'cluster_state:fail never seen after the master kill').toBeLessThan(deadline);
      await sleep(10);
    }
  } finally {
    worker.kill('SIGCONT');
    admin.disconnect();
  }
  await cluster.waitHealthy(30_000);

  const msgs = Array.from({ length: SHARDS }, (_, s) => jobMessage(envelope(`order.s${s}`)));
  for (const [s, m] of msgs.entries()) await probe.enqueue([[m]], s);
  const outcomes = await probe.waitForOutcomes(
    msgs.map((m) => m.id),
    30_000,
  );
  expect(outcomes.size).toBe(SHARDS);
}, 150_000);
