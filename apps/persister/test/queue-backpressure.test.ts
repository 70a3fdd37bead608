import { PERSISTER_GROUP } from '@fleet/protocol';
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Persister, startPersister } from '../src/persister.js';
import { groupState } from '../src/redis-streams.js';
import { bullQueue, count, type Harness, harness, memoryLogger, publish, waitUntil } from './harness.js';

describe('backpressure from the queue', () => {
  let h: Harness;
  let p: Persister;
  let q: Queue;
  const log = memoryLogger();

  beforeAll(async () => {
    h = await harness('bp', { streams: { read_count: 2 }, queue: { batch_size: 1 } });
    p = await startPersister(h.cfg, { logger: log, ops: false, consumerName: 'bp-a', maxWaitingJobs: 5 });
    q = bullQueue(h);
  });
  afterAll(async () => {
    await p?.close();
    await q?.close();
    await h?.close();
  });

  it('stops pulling while the waiting backlog is above the bound, resumes when it drains', async () => {
    // Entries of read_count messages: one read = one entry = 2 messages.
    await publish(
      h,
      Array.from({ length: 40 }, (_, i) => `bp-${i}`),
      { perEntry: 2 },
    );
    await waitUntil(() => log.lines.some((l) => /pausing stream reads/.test(l.msg)), 10_000, 'pause');
    // Instead of a fixed wait: the reader declined to read on several turns after the pause (each turn
    // would have read an entry had the gate been ignored).
    const pauses = async () => (await p.metrics.readPauses.get()).values[0]?.value ?? 0;
    const pausedAt = await pauses();
    await waitUntil(async () => (await pauses()) >= pausedAt + 3, 10_000, 'three read turns held back');
    // Mutations tried: StreamGroupReader reading after a closed gate (its `continue` removed): waiting
    // reached 14 > 12 below; the gate's answer ignored: the pause counter never moved (timeout above).
    const waiting = await q.getWaitingCount();
    // The bound (5) plus at most one batch (2) per pipeline in hand when it was crossed.
    expect(waiting).toBeLessThanOrEqual(12);
    expect((await groupState(h.redis, h.keys.ingestStream(0), PERSISTER_GROUP))?.lag).toBeGreaterThan(0);
    await waitUntil(
      async () => {
        await q.drain();
        return (await count(h, 'SELECT count(*) AS n FROM messages')) === 40;
      },
      20_000,
      'every row once the queue drains',
    );
    expect(log.lines.some((l) => /resuming stream reads/.test(l.msg))).toBe(true);
  });
});
