// A Redis with a small maxmemory and noeviction (what docs/operations.md recommends), persister and
// workers stopped: the gateway answers OVERLOADED before Redis refuses any write; the persister, started
// then, stops making jobs before Redis is full; once workers start, everything that was ACKed ends
// COMPLETED and the gateway accepts publishes again, with no operator action.
//
// Mutations tried: (1) the gateway's admission check disabled (refusedUnderPressure returning false):
// the flood ran Redis into maxmemory, the first OVERLOADED came from Redis's own OOM refusal and the
// `errorstat_OOM` assertion failed (7 refusals). (2) The persister's memory gate disabled (memoryFull
// always false): turning the stream into jobs ran Redis into maxmemory (66 refusals by the end): failed.
// (3) The gate without its "no job left" exception: the stream alone held memory above the resume mark,
// nothing else could free it, and the drain stalled (2,141 of 18,441 COMPLETED by the deadline): failed.
import { type PrivateRedis, startPrivateRedis } from '@fleet/services';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Fleet,
  floodUntilOverloaded,
  log,
  publishOnceAccepted,
  startFleet,
  waitAllCompleted,
} from './harness.js';

const MAXMEMORY_BYTES = 32 * 1024 * 1024;

let redis: PrivateRedis;
let admin: Redis;
let fleet: Fleet;

/** Redis's count of commands it refused for memory (INFO errorstats), and used/max memory. */
async function redisState(): Promise<{ oomRejections: number; used: number; max: number }> {
  const errorstats = await admin.info('errorstats');
  const memory = await admin.info('memory');
  const num = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  return {
    oomRejections: num(errorstats, /^errorstat_OOM:count=(\d+)/m),
    used: num(memory, /^used_memory:(\d+)/m),
    max: num(memory, /^maxmemory:(\d+)/m),
  };
}

beforeAll(async () => {
  redis = await startPrivateRedis();
  admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  // A private instance: CONFIG SET is ours to use (never on the shared Redis).
  await admin.config('SET', 'maxmemory', String(MAXMEMORY_BYTES));
  await admin.config('SET', 'maxmemory-policy', 'noeviction');
  fleet = await startFleet(
    redis.url,
    {
      pressure: { interval_ms: 100 },
      // Small reads: one persister batch of jobs is a small part of the headroom above dispatch_memory_high.
      streams: { read_count: 200, block_ms: 50 },
      queue: { batch_size: 100 },
    },
    { persisterLater: true },
  );
}, 180_000);

afterAll(async () => {
  await fleet?.stop();
  admin?.disconnect();
  await redis?.dispose();
}, 60_000);

describe('a Redis with maxmemory and noeviction fills up', () => {
  it('the gateway answers OVERLOADED before Redis refuses a write, and the fleet drains and recovers by itself', async () => {
    const flood = await floodUntilOverloaded(fleet.gatewayPort, () => redisState());
    const at = flood.atOverloaded as Awaited<ReturnType<typeof redisState>>;
    log(
      `OVERLOADED after ${flood.acked.length} ACKed: used ${at.used} of ${at.max}, OOM rejections ${at.oomRejections}`,
    );
    expect(at.max).toBe(MAXMEMORY_BYTES);
    expect(at.oomRejections).toBe(0);
    expect(flood.acked.length).toBeGreaterThan(1_000);

    // The persister was down during the flood: the stream holds the backlog. Turning it into jobs costs
    // more memory than the entries it trims; the persister must stop at dispatch_memory_high on its own.
    await fleet.startPersister();
    await fleet.apps.at(-1)!.waitForLine(/pausing stream reads \(no new jobs\)/, 120_000);
    const paused = await redisState();
    log(`persister paused: used ${paused.used}, OOM rejections ${paused.oomRejections}`);
    expect(paused.oomRejections).toBe(0);

    await fleet.startWorkers(2);
    await waitAllCompleted(fleet.db.url, flood.acked, 240_000);
    await publishOnceAccepted(fleet.gatewayPort, 120_000);

    // The drain itself never needed a write Redis refused, and no process logged one.
    const end = await redisState();
    log(`drained: used ${end.used}, OOM rejections ${end.oomRejections}`);
    expect(end.oomRejections).toBe(0);
    expect(fleet.output()).not.toMatch(/OOM command not allowed/);
  }, 420_000);
});
