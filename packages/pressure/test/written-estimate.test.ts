// Guarantee: bytes a process reports writing (noteWritten: the persister's new jobs) count into memory at
// once, so it pauses when its own writes cross the high mark, without waiting for the next INFO sample.
// Found by test/pressure/redis-full.test.ts on a loaded box: the persister's sample timer ran late and its
// jobs ran Redis into maxmemory (OOM refusals) before the gate closed.
// Mutation tried: noteWritten adding the bytes without evaluating the estimate: this test failed.
import { createRedis, type FleetRedis } from '@fleet/redis';
import { type PrivateRedis, startPrivateRedis } from '@fleet/services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PressureMonitor } from '../src/index.js';

const MAXMEMORY = 64 * 1024 * 1024;

describe('PressureMonitor.noteWritten', () => {
  let server: PrivateRedis;
  let redis: FleetRedis;
  const warnings: string[] = [];

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = createRedis({ url: server.url, mode: 'standalone', nodes: [], nat_map: {} }, 'admin');
    // A private instance: CONFIG SET is ours to use.
    await redis.call('CONFIG', 'SET', 'maxmemory', String(MAXMEMORY));
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.dispose();
  });

  it('pauses as soon as the bytes written since the last sample cross the high mark', async () => {
    const monitor = new PressureMonitor({
      redis,
      streams: [],
      bounds: () => ({ memoryHigh: 0.5, memoryLow: 0.4, backlogHigh: 0, backlogLow: 0 }),
      intervalMs: () => 3_600_000, // no sample after the first: only the estimate can pause
      log: { warn: (_o, msg) => warnings.push(msg), info: () => {} },
      what: 'test writes',
    });
    await monitor.start();
    try {
      expect(monitor.lastSample.maxMemory).toBe(MAXMEMORY);
      expect(monitor.overloaded).toBe(false);
      const headroom = MAXMEMORY * 0.5 - monitor.lastSample.usedMemory;
      monitor.noteWritten(Math.floor(headroom / 2));
      expect(monitor.overloaded).toBe(false);
      monitor.noteWritten(Math.ceil(headroom / 2) + 1);
      expect(monitor.overloaded).toBe(true);
      expect(warnings.some((w) => w.includes('pausing test writes'))).toBe(true);
      // The next sample measures what is really there (nothing was written): the estimate is dropped.
      await monitor.sampleNow();
      expect(monitor.overloaded).toBe(false);
    } finally {
      await monitor.stop();
    }
  });
});
