// redis.mode checked at start against what the server says (@fleet/redis checkRedisMode, run by the one
// bootstrap, packages/app, before an app opens anything; and by `npm start`): a standalone config pointed
// at a Redis Cluster node, or a cluster config pointed at a standalone Redis, ends the start with one stderr
// line naming the fix and exit 2, no stack trace. The apps run as real processes against a private cluster
// of our own and the run's shared standalone Redis (only probed with INFO, nothing written).
import { connect } from '@fleet/client';
import { freePort, type PrivateRedisCluster, startPrivateRedisCluster } from '@fleet/services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeClusterTestConfig, writeTestConfig } from '../helpers/config.js';
import { type AppName, type AppProcess, spawnApp, spawnScript } from '../helpers/processes.js';
import { freshDatabase, redisUrl } from '../helpers/services.js';

const EXIT_MS = 60_000;
let cluster: PrivateRedisCluster;
const running: AppProcess[] = [];

beforeAll(async () => {
  cluster = await startPrivateRedisCluster();
}, 60_000);

afterAll(async () => {
  await Promise.all(running.map((a) => a.stop(5_000)));
  await cluster?.dispose();
});

async function exitOf(proc: AppProcess): Promise<{ code: unknown; err: string[] }> {
  running.push(proc);
  const code = await Promise.race([
    proc.exited,
    new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), EXIT_MS).unref()),
  ]);
  return { code, err: proc.lines.filter((l) => l.startsWith(`[${proc.app} err]`)) };
}

const APPS: AppName[] = ['gateway', 'persister', 'worker'];

describe('redis.mode is checked before an app starts', () => {
  // Mutation checked: without the checkMode() call in runApp, the gateway ran on against the cluster node
  // (logging MOVED 14561 ...) and this timed out waiting for an exit.
  it.each<AppName>(APPS)(
    '%s: mode standalone against a cluster node -> exit 2, one line',
    async (app) => {
      const { path } = await writeTestConfig({ redis: { mode: 'standalone', url: cluster.urls[0]! } });
      const proc = spawnApp(app, { config: path });
      const { code, err } = await exitOf(proc);
      expect(code, proc.output()).toBe(2);
      expect(err, proc.output()).toEqual([
        expect.stringMatching(
          new RegExp(
            `^\\[${app} err\\] ${app}: redis\\.mode is standalone but 127\\.0\\.0\\.1:\\d+ is a Redis Cluster node: set redis\\.mode: cluster`,
          ),
        ),
      ]);
      expect(proc.output()).not.toMatch(/\n\s+at /);
    },
    EXIT_MS + 10_000,
  );

  it.each<AppName>(APPS)(
    '%s: mode cluster against the standalone Redis -> exit 2, one line',
    async (app) => {
      const { path } = await writeTestConfig({ redis: { mode: 'cluster', nodes: [redisUrl()] } });
      const proc = spawnApp(app, { config: path });
      const { code, err } = await exitOf(proc);
      expect(code, proc.output()).toBe(2);
      expect(err, proc.output()).toEqual([
        expect.stringMatching(
          new RegExp(`^\\[${app} err\\] ${app}: redis\\.mode is cluster but .* is a standalone Redis`),
        ),
      ]);
      expect(proc.output()).not.toMatch(/\n\s+at /);
    },
    EXIT_MS + 10_000,
  );

  it('a matching mode starts: the bootstrap fixture in cluster mode on the cluster says ready', async () => {
    const { path } = await writeClusterTestConfig(cluster);
    const proc = spawnScript('fixture', 'packages/app/test/fixtures/app.ts', ['--config', path]);
    running.push(proc);
    await proc.waitReady(30_000);
    proc.kill('SIGTERM');
    expect(await proc.exited, proc.output()).toBe(0);
  }, 60_000);

  // `npm start` (scripts/start.mjs) checks before it starts anything, and never finds or starts a Redis of
  // its own in cluster mode (a cluster is the user's).
  it.each([
    [
      'standalone config on a cluster node',
      'standalone',
      /^\[fleet\] redis\.mode is standalone but 127\.0\.0\.1:\d+ is a Redis Cluster node/,
    ],
    [
      'cluster config on the standalone Redis',
      'cluster',
      /^\[fleet\] redis\.mode is cluster but .* is a standalone Redis/,
    ],
    [
      'cluster config, no seed answers',
      'dead',
      /^\[fleet\] Redis Cluster not reachable at redis:\/\/127\.0\.0\.1:\d+ \(redis\.nodes\)/,
    ],
  ] as const)(
    'npm start: %s -> one line, exit != 0',
    async (_, kind, line) => {
      const redis =
        kind === 'standalone'
          ? { mode: 'standalone' as const, url: cluster.urls[0]! }
          : kind === 'cluster'
            ? { mode: 'cluster' as const, nodes: [redisUrl()] }
            : { mode: 'cluster' as const, nodes: [`redis://127.0.0.1:${await freePort()}`] };
      const { path } = await writeTestConfig({ redis });
      const proc = spawnScript('fleet', 'scripts/start.mjs', ['--config', path], {}, { typescript: false });
      const { code } = await exitOf(proc);
      expect(code, proc.output()).not.toBe(0);
      expect(code, proc.output()).not.toBe('timeout');
      const out = proc.lines
        .map((l) => l.replace(/^\[fleet (out|err)\] /, ''))
        .filter((l) => l.trim() !== '');
      expect(out, proc.output()).toHaveLength(1);
      expect(out[0]).toMatch(line);
    },
    EXIT_MS + 10_000,
  );

  // The fleet npm start runs on the cluster: the seeds as configured (no Redis found or started, no
  // FLEET_REDIS_URL handed to the apps), every app ready, durable publishes ACKed, Ctrl-C stops it (exit 0).
  // Needs the cluster-capable apps of issue 17 (gateway, persister, worker branches): passed merged with them.
  it('npm start: a cluster config runs the fleet on the cluster', async () => {
    const db = await freshDatabase('start_cluster');
    try {
      const { path } = await writeClusterTestConfig(cluster, {
        database: { connection_string: db.url },
        streams: { shards: 8 },
      });
      const proc = spawnScript('fleet', 'scripts/start.mjs', ['--config', path], {}, { typescript: false });
      running.push(proc);
      await proc.waitForLine(/Fleet is running/, 90_000);
      expect(proc.output()).toMatch(/\[fleet\] redis {4}redis:\/\/127\.0\.0\.1:\d+, .* \(cluster\)/);
      const port = Number(/gateway \(TCP\)\s+\S+:(\d+)/.exec(proc.output())?.[1]);
      const client = await connect({ host: '127.0.0.1', port, clientName: 'start-cluster' });
      try {
        for (let i = 0; i < 16; i++) await client.publish(`start.cluster.t${i}`, { i }, { ack: 'durable' });
      } finally {
        await client.close();
      }
      proc.kill('SIGINT');
      expect(await proc.exited, proc.output()).toBe(0);
    } finally {
      await db.drop();
    }
  }, 150_000);
});
