// A Redis without maxmemory, workers stopped: the persister stops making jobs at queue.max_waiting_jobs,
// the ingest stream grows, and at pressure.max_backlog_messages the gateway answers OVERLOADED instead
// of letting Redis grow without limit. Workers started: everything ACKed completes and publishes are
// accepted again (below resume_backlog_messages), with no operator action.
//
// Mutation tried: the gateway's admission check disabled (refusedUnderPressure returning false): the
// flood then never got OVERLOADED and ran to FLOOD_CAP messages ("never answered OVERLOADED"): failed.
import { type PrivateRedis, startPrivateRedis } from '@fleet/services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Fleet,
  floodUntilOverloaded,
  log,
  publishOnceAccepted,
  startFleet,
  waitAllCompleted,
} from './harness.js';

const MAX_BACKLOG = 5_000;
const RESUME_BACKLOG = 2_000;
const MAX_WAITING_JOBS = 5;
const BATCH_SIZE = 100;
/** The flood stops here if the gateway never pushes back (many times what the bounds allow). */
const FLOOD_CAP = 60_000;

let redis: PrivateRedis;
let fleet: Fleet;

beforeAll(async () => {
  redis = await startPrivateRedis(); // maxmemory 0: the backlog bound is the only limit
  fleet = await startFleet(redis.url, {
    pressure: {
      interval_ms: 100,
      max_backlog_messages: MAX_BACKLOG,
      resume_backlog_messages: RESUME_BACKLOG,
    },
    queue: { batch_size: BATCH_SIZE, max_waiting_jobs: MAX_WAITING_JOBS },
    streams: { read_count: 500, block_ms: 50 },
  });
}, 180_000);

afterAll(async () => {
  await fleet?.stop();
  await redis?.dispose();
}, 60_000);

describe('without maxmemory the ingest backlog is bounded', () => {
  it('the gateway answers OVERLOADED past max_backlog_messages and accepts again once workers drain it', async () => {
    const flood = await floodUntilOverloaded(fleet.gatewayPort, async () => null, FLOOD_CAP);
    log(`OVERLOADED after ${flood.acked.length} ACKed`);
    // Jobs hold at most about (max_waiting_jobs + one read) batches, the stream about max_backlog; the
    // rest is what was in flight when the state turned. Far below the cap an unbounded gateway reaches.
    expect(flood.acked.length).toBeGreaterThanOrEqual(MAX_BACKLOG / 2);
    expect(flood.acked.length).toBeLessThan(3 * MAX_BACKLOG);
    await expect(
      fleet.apps[0]!.waitForLine(/queue backlog above bound: pausing stream reads/, 30_000),
    ).resolves.toBeTruthy();

    await fleet.startWorkers(1);
    await waitAllCompleted(fleet.db.url, flood.acked, 240_000);
    await publishOnceAccepted(fleet.gatewayPort, 120_000);
    await expect(
      fleet.apps[1]!.waitForLine(/redis pressure relieved: resuming publishes/, 30_000),
    ).resolves.toBeTruthy();
  }, 420_000);
});
