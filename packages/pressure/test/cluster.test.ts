import { createRedis, type FleetRedis, masters } from '@fleet/redis';
import { type PrivateRedisCluster, startPrivateRedisCluster } from '@fleet/services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fullest, PressureMonitor, parseMemoryInfo } from '../src/index.js';

const MB = 1024 * 1024;

describe('fullest (the master that decides on a cluster)', () => {
  it('the highest used/maxmemory among masters with a maxmemory, else the most used', () => {
    expect(
      fullest([
        { usedMemory: 90 * MB, maxMemory: 0 },
        { usedMemory: 10 * MB, maxMemory: 100 * MB },
        { usedMemory: 60 * MB, maxMemory: 80 * MB },
      ]),
    ).toEqual({ usedMemory: 60 * MB, maxMemory: 80 * MB });
    expect(
      fullest([
        { usedMemory: 5 * MB, maxMemory: 0 },
        { usedMemory: 9 * MB, maxMemory: 0 },
      ]),
    ).toEqual({ usedMemory: 9 * MB, maxMemory: 0 });
    expect(() => fullest([])).toThrow();
  });
});

// PressureMonitor on a private Redis Cluster: INFO memory per master, XLEN per stream (streams of several
// slots: a pipeline of them would fail CROSSSLOT / land on one node). Mutation tried: the standalone path
// (one pipeline) used on a cluster too: the sample fails (warning) and this test fails.
describe('PressureMonitor on a Redis Cluster', () => {
  let cluster: PrivateRedisCluster;
  let redis: FleetRedis;
  const streams = Array.from({ length: 6 }, (_, i) => `{pressure-test:s${i}}:ingest`);
  const log = { warn: () => {}, info: () => {} };
  const warnings: string[] = [];

  beforeAll(async () => {
    cluster = await startPrivateRedisCluster();
    redis = createRedis(
      { url: cluster.urls[0]!, mode: 'cluster', nodes: cluster.urls, nat_map: {} },
      'command',
      { commandTimeoutMs: 2_000 },
    );
    await redis.connect();
  }, 60_000);
  afterAll(async () => {
    redis?.disconnect();
    await cluster?.dispose();
  });

  it('sums the stream lengths over shards and lets the fullest master decide', async () => {
    for (let i = 0; i < streams.length; i++)
      for (let j = 0; j <= i; j++) await redis.xadd(streams[i]!, '*', 'b', 'x');
    const bounds = { memoryHigh: 0.75, memoryLow: 0.65, backlogHigh: 1_000, backlogLow: 500 };
    const monitor = new PressureMonitor({
      redis,
      streams,
      bounds: () => bounds,
      intervalMs: () => 60_000,
      log: { ...log, warn: (o: object, m: string) => void warnings.push(`${m} ${JSON.stringify(o)}`) },
      what: 'test',
    });
    await monitor.sampleNow();
    expect(warnings).toEqual([]);
    expect(monitor.lastSample.backlogMessages).toBe(21); // 1 + 2 + ... + 6 entries, 1 message each
    expect(monitor.overloaded).toBe(false);

    // One master nearly full (maxmemory just above its used memory): the cluster is under pressure.
    const [first] = masters(redis);
    const used = parseMemoryInfo(await first!.info('memory')).usedMemory;
    await first!.config('SET', 'maxmemory', String(Math.ceil(used / 0.9)));
    try {
      await monitor.sampleNow();
      expect(monitor.reason).toBe('memory');
      expect(monitor.lastSample.maxMemory).toBe(Math.ceil(used / 0.9));
    } finally {
      await first!.config('SET', 'maxmemory', '0');
    }
    await monitor.sampleNow();
    expect(monitor.overloaded).toBe(false);
    await monitor.stop();
  });
});
