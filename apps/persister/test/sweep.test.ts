import type { Queue, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Persister, startPersister } from '../src/persister.js';
import {
  allJobs,
  bullQueue,
  count,
  fakeWorker,
  type Harness,
  harness,
  memoryLogger,
  publish,
  waitUntil,
} from './harness.js';

/** Deletes every BullMQ key of the fleet's queue: what a Redis restart without AOF or a failover does to jobs. */
async function flushQueueKeys(h: Harness): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    // The queue's keys only: the shard's tag also covers its ingest and status streams.
    const match = `${h.keys.bullPrefix(0)}:${h.cfg.queue.name}:*`;
    const [next, keys] = await h.redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await h.redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

describe('persister: the sweep re-dispatches rows whose jobs Redis lost', () => {
  let h: Harness;
  let p: Persister;
  let q: Queue;
  let w: Worker | undefined;

  beforeAll(async () => {
    h = await harness('sweep', {
      retry: { sweep_age_ms: 1_000, sweep_interval_ms: 1_000 },
      queue: { batch_size: 7 },
    });
    p = await startPersister(h.cfg, { logger: memoryLogger(), ops: false, consumerName: 'sweep-a' });
    q = bullQueue(h);
  });
  afterAll(async () => {
    await w?.close();
    await p?.close();
    await q?.close();
    await h?.close();
  });

  it('queue keys flushed mid-run: every message still completes, without duplicate jobs', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `sw-${i}`);
    await publish(h, ids);
    await waitUntil(
      async () => (await count(h, 'SELECT count(*) AS n FROM messages')) === 50,
      20_000,
      'rows',
    );
    await waitUntil(async () => (await allJobs(q)).flatMap((j) => j.ids).length === 50, 10_000, 'jobs');
    expect(await flushQueueKeys(h)).toBeGreaterThan(0);
    expect(await allJobs(q)).toEqual([]);
    const seen: string[] = [];
    w = fakeWorker(h, () => 'COMPLETED', seen);
    await waitUntil(
      async () => (await count(h, "SELECT count(*) AS n FROM messages WHERE status = 'COMPLETED'")) === 50,
      30_000,
      'all completed',
    );
    // Sweeps that find nothing left (rows COMPLETED) dispatch nothing more.
    expect(await p.sweepNow()).toBe(0);
    expect(await p.sweepNow()).toBe(0);
    // Counted from the handler's side: each id handled exactly once, no duplicate dispatch.
    // Mutation checked: with dispatchSwept sending every swept row twice (two jobs per batch, distinct
    // ids), `seen` holds 100 entries for 50 ids and this fails (the old check ran on a Set).
    expect([...seen].sort()).toEqual([...ids].sort());
  });

  it('does not re-dispatch rows whose jobs are merely waiting behind a backlog', async () => {
    await w?.close();
    w = undefined;
    await publish(h, ['wait-1', 'wait-2']);
    await waitUntil(async () => (await q.getWaitingCount()) >= 1, 10_000, 'waiting job');
    // Older than sweep_age_ms by Postgres' clock (the one the sweep compares with), their job still queued.
    await waitUntil(
      async () =>
        (await count(
          h,
          "SELECT count(*) AS n FROM messages WHERE id = ANY($1) AND updated_at < now() - $2 * interval '1 millisecond'",
          [['wait-1', 'wait-2'], h.cfg.retry.sweep_age_ms],
        )) === 2,
      10_000,
      'rows older than sweep_age_ms',
    );
    // Mutation tried: staleAfterMs ignoring the oldest waiting job: both rows were swept (a second job).
    expect(await p.sweepNow()).toBe(0);
    expect((await allJobs(q)).flatMap((j) => j.ids).sort()).toEqual(['wait-1', 'wait-2']);
  });
});
