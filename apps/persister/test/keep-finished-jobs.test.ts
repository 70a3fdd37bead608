// queue.keep_completed / queue.keep_failed: finished jobs stay in their queue (Bull Board shows them),
// bounded by count, and keeping them never turns a re-dispatch into a no-op. Job ids are deterministic (a
// re-add of an existing id is a no-op), so a kept sweep job `s-<hash>-<n>` would swallow a later sweep of the
// same rows; sweeps carry their claim time in the id (`s-<hash>-<n>.<claim>`).
import { replayRange } from '@fleet/dispatch';
import { JOB_NAME, type JobData } from '@fleet/protocol';
import { createRedis } from '@fleet/redis';
import { type Queue, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forceStatus } from '../../../packages/store/test/fixtures.js';
import { type Persister, startPersister } from '../src/persister.js';
import { bullQueue, count, type Harness, harness, memoryLogger, publish, waitUntil } from './harness.js';

describe('persister: finished jobs kept for the ops view', () => {
  let h: Harness;
  let p: Persister;
  let q: Queue;
  let w: Worker | undefined;

  /**
   * A BullMQ worker on the fleet's queue that runs `each` per message and reports NO outcome on the status
   * stream (as if the outcome were lost with a Redis restored from an older snapshot): its jobs complete
   * (or fail, when `each` throws) in BullMQ while their rows stay PENDING in Postgres.
   */
  function silentWorker(each: (id: string, jobId: string) => void): Worker {
    const conn = createRedis(h.cfg.redis, 'queue');
    return new Worker(
      h.cfg.queue.name,
      async (job) => {
        if (job.name !== JOB_NAME) return;
        for (const m of (job.data as JobData).messages) each(m.id, String(job.id));
      },
      { connection: conn, prefix: h.keys.bullPrefix(0), concurrency: 1 },
    );
  }

  /** Waits until the rows' updated_at is older than sweep_age_ms by Postgres' clock (what the sweep compares). */
  async function oldEnough(ids: string[]): Promise<void> {
    await waitUntil(
      async () =>
        (await count(
          h,
          "SELECT count(*) AS n FROM messages WHERE id = ANY($1) AND updated_at < now() - $2 * interval '1 millisecond'",
          [ids, h.cfg.retry.sweep_age_ms],
        )) === ids.length,
      20_000,
      'rows older than sweep_age_ms',
    );
  }

  beforeAll(async () => {
    h = await harness('keepjobs', {
      retry: { sweep_age_ms: 1_000, sweep_interval_ms: 600_000 },
      queue: {
        batch_size: 1,
        keep_completed: { count: 3, age_s: 3600 },
        keep_failed: { count: 2, age_s: 3600 },
      },
    });
    p = await startPersister(h.cfg, { logger: memoryLogger(), ops: false, consumerName: 'keepjobs-a' });
    q = bullQueue(h);
  });
  afterAll(async () => {
    await w?.close();
    await p?.close();
    await q?.close();
    await h?.close();
  });

  it('completed and failed jobs stay in the queue, at most keep_*.count of each', async () => {
    const ok = Array.from({ length: 6 }, (_, i) => `ok-${i}`);
    const bad = ['bad-1', 'bad-2', 'bad-3', 'bad-4'];
    let runs = 0;
    w = silentWorker((id) => {
      runs++;
      if (id.startsWith('bad-')) throw new Error('worker crashed on it');
    });
    await publish(h, [...ok, ...bad]);
    await waitUntil(async () => runs >= 10, 20_000, 'every job run');
    await waitUntil(
      async () => (await q.getCompletedCount()) === 3 && (await q.getFailedCount()) === 2,
      10_000,
      'kept jobs trimmed to their counts',
    );
    const completed = await q.getCompleted();
    expect(completed.every((j) => j.id?.startsWith('i-') && j.finishedOn)).toBe(true);
    const failed = await q.getFailed();
    expect(failed.map((j) => j.failedReason)).toEqual(['worker crashed on it', 'worker crashed on it']);
    // Bounded by age too: BullMQ's KeepJobs as configured.
    expect(completed[0]!.opts.removeOnComplete).toEqual({ count: 3, age: 3600 });
    expect(failed[0]!.opts.removeOnFail).toEqual({ count: 2, age: 3600 });
    await w.close();
    w = undefined;
    // Their outcomes never came (silent worker): settle the rows so the sweeps below see only their own.
    await forceStatus(h.pool, [...ok, ...bad], 'COMPLETED');
  });

  // Mutation tried: dispatchSwept without the claim tag (ids `s-<hash>-<n>` as before): the second sweep's
  // add was a no-op against the kept job of the first, the row was never run again, and this test failed.
  it('a row swept twice, its first sweep job completed and kept, is dispatched and run again', async () => {
    const runsOf: string[] = [];
    w = silentWorker((id, jobId) => {
      if (id === 'twice-1') runsOf.push(jobId);
    });
    await publish(h, ['twice-1']);
    await waitUntil(async () => runsOf.length === 1, 20_000, 'first delivery run');
    expect(runsOf[0]).toMatch(/^i-/);
    // No outcome reached Postgres: the row is PENDING with its job gone from the live states.
    await oldEnough(['twice-1']);
    expect(await p.sweepNow()).toBe(1);
    await waitUntil(async () => runsOf.length === 2, 20_000, 'first sweep run');
    expect(runsOf[1]).toMatch(/^s-/);
    expect((await q.getJob(runsOf[1]!))?.finishedOn).toBeTruthy(); // kept, completed

    await oldEnough(['twice-1']);
    expect(await p.sweepNow()).toBe(1);
    await waitUntil(async () => runsOf.length === 3, 20_000, 'second sweep run');
    // Each sweep's job: retry count 0, then the claim time.
    expect(runsOf[2]).toMatch(/^s-[A-Za-z0-9_-]+-0\.[0-9a-z]+$/);
    expect(runsOf[2]).not.toBe(runsOf[1]);
    expect(
      await count(h, "SELECT count(*) AS n FROM messages WHERE id = 'twice-1' AND status = 'PENDING'"),
    ).toBe(1);
  });

  // Mutation tried: replayRange's tag without the request's start time (`<group>.<after>` as before): the
  // second replay of the same range was a no-op against the first one's kept job and this test failed.
  it('replaying the same log range twice runs it twice, the first replay job kept', async () => {
    const runsOf: string[] = [];
    await w?.close();
    w = silentWorker((id, jobId) => {
      if (id === 'twice-1') runsOf.push(jobId);
    });
    const range = { group: 'audit', topic: 'orders.created', from: '0' };
    expect((await replayRange(p.store, p.dispatcher, range)).replayed).toBeGreaterThan(0);
    await waitUntil(async () => runsOf.length === 1, 20_000, 'first replay run');
    expect((await q.getJob(runsOf[0]!))?.finishedOn).toBeTruthy();
    // A new request (its tag carries its start time, base 36 ms): wait for the clock to move on.
    const t = Date.now();
    await waitUntil(async () => Date.now() > t, 1_000, 'the next millisecond');
    await replayRange(p.store, p.dispatcher, range);
    await waitUntil(async () => runsOf.length === 2, 20_000, 'second replay run');
    expect(runsOf.every((id) => id.startsWith('p-'))).toBe(true);
    expect(runsOf[1]).not.toBe(runsOf[0]);
  });
});
