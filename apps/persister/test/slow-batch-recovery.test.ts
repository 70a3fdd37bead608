// Guarantee: a row whose first job is still waiting is never dispatched a second time by the recovery of
// rows found already inserted (Sweeper.recoverSuspects), however long its batch took between the start of
// its statement (the rows' updated_at) and the add of its job. Here the batch is held 4 s by a row lock,
// longer than the sweeper's 2 s clock margin; then a resend of the same ids makes them suspects.
// Found by the e2e crash test on a loaded box (one job's 100 messages handled twice after the Postgres
// kill): the job's creation time was the moment of the add, so the rows looked older than every waiting
// job and the recovery took the waiting job's rows for lost ones.

import { PERSISTER_GROUP } from '@fleet/protocol';
import { migrate } from '@fleet/store';
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

const IDS = 100;
/** How long the first batch's statement is held: well past the sweeper's clock margin (2 s). */
const LOCK_HOLD_MS = 4_000;
/** Recovery passes (every 500 ms) given the chance to dispatch the waiting job's rows again. */
const RECOVERY_WINDOW_MS = 3_000;

describe('a slow batch whose job still waits', () => {
  let h: Harness;
  let q: Queue;
  let p: Persister | undefined;
  let w: Worker | undefined;

  beforeAll(async () => {
    h = await harness('slowbatch');
    await migrate(h.dbUrl);
    q = bullQueue(h);
  });
  afterAll(async () => {
    await w?.close();
    await p?.close();
    await q?.close();
    await h?.close();
  });

  it('is not dispatched again when a resend makes its rows suspects: each id handled once', async () => {
    expect(h.cfg.retry.sweep_age_ms).toBeGreaterThanOrEqual(60_000); // the periodic sweep plays no part
    const stream = h.keys.ingestStream(0);
    const ids = Array.from({ length: IDS }, (_, i) => `slow-${i}`);
    // The batch's statement upserts this offset row: holding its lock holds the statement after its start.
    await h.pool.query(
      `INSERT INTO consumer_offsets (consumer_group, topic, "offset") VALUES ($1, $2, '0-0')`,
      [PERSISTER_GROUP, stream],
    );
    const locker = await h.pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(
        'SELECT 1 FROM consumer_offsets WHERE consumer_group = $1 AND topic = $2 FOR UPDATE',
        [PERSISTER_GROUP, stream],
      );
      p = await startPersister(h.cfg, {
        logger: memoryLogger(),
        ops: false,
        consumerName: 'p',
        pipelines: 1,
      });
      await publish(h, ids);
      await waitUntil(
        async () =>
          (
            await h.pool.query(
              "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
            )
          ).rowCount! > 0,
        30_000,
        'the batch statement waiting on the offset row lock',
      );
      await new Promise((r) => setTimeout(r, LOCK_HOLD_MS));
      await locker.query('COMMIT');
    } finally {
      locker.release();
    }
    await waitUntil(async () => (await q.getWaitingCount()) === 1, 30_000, 'the batch job waiting');

    // The client's resend: the same ids again, found already inserted (suspects of the recovery).
    await publish(h, ids);
    const persister = p!;
    await waitUntil(
      async () => ((await persister.metrics.duplicates.get()).values[0]?.value ?? 0) >= IDS,
      30_000,
      'the resent batch found already inserted',
    );
    await new Promise((r) => setTimeout(r, RECOVERY_WINDOW_MS));

    // Mutation tried: Dispatcher.dispatchNew ignoring `since` (job created at the add, as before): the
    // recovery added a second job (`s-...`) for the waiting job's rows and every id was handled twice.
    const queued = new Map<string, number>();
    for (const job of await allJobs(q)) for (const id of job.ids) queued.set(id, (queued.get(id) ?? 0) + 1);
    expect([...queued].filter(([, n]) => n > 1)).toEqual([]);

    const seen: string[] = [];
    w = fakeWorker(h, () => 'COMPLETED', seen);
    await waitUntil(
      async () => (await count(h, "SELECT count(*) AS n FROM messages WHERE status = 'COMPLETED'")) === IDS,
      60_000,
      'every row COMPLETED',
    );
    const times = new Map<string, number>();
    for (const id of seen) times.set(id, (times.get(id) ?? 0) + 1);
    expect(times.size).toBe(IDS);
    expect([...times].filter(([, n]) => n > 1)).toEqual([]);
  }, 120_000);
});
