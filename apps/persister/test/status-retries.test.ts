import type { Queue, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Persister, startPersister } from '../src/persister.js';
import {
  bullQueue,
  count,
  fakeWorker,
  type Harness,
  harness,
  memoryLogger,
  publish,
  waitUntil,
} from './harness.js';

describe('persister: status flow, retries with backoff, dead letters', () => {
  let h: Harness;
  let p: Persister;
  let q: Queue;
  let w: Worker;
  const seen: string[] = [];

  beforeAll(async () => {
    h = await harness('status', {
      retry: { max_retries: 2, backoff_ms: 20, backoff_max_ms: 200 },
      queue: { batch_size: 5 },
    });
    p = await startPersister(h.cfg, { logger: memoryLogger(), ops: false, consumerName: 'status-a' });
    q = bullQueue(h);
    w = fakeWorker(
      h,
      (id, attempt) => {
        if (id.startsWith('ok-')) return 'COMPLETED';
        if (id.startsWith('flaky-')) return attempt >= 1 ? 'COMPLETED' : 'FAILED';
        if (id.startsWith('unrouted-')) return { status: 'DEAD', error: 'unrouted' };
        return 'FAILED';
      },
      seen,
    );
  });
  afterAll(async () => {
    await w?.close();
    await p?.close();
    await q?.close();
    await h?.close();
  });

  it('applies outcomes: COMPLETED, retried then COMPLETED, DEAD after the limit, unrouted stays DEAD', async () => {
    await publish(h, ['ok-1', 'ok-2', 'ok-3', 'flaky-1', 'flaky-2', 'bad-1', 'unrouted-1']);
    const statusOf = async (id: string) =>
      (await h.pool.query('SELECT status, retry_count, last_error FROM messages WHERE id = $1', [id]))
        .rows[0];
    await waitUntil(
      async () =>
        (await count(h, "SELECT count(*) AS n FROM messages WHERE status IN ('COMPLETED','DEAD')")) === 7,
      20_000,
      'final statuses',
    );
    expect(await statusOf('ok-1')).toMatchObject({ status: 'COMPLETED', retry_count: 0 });
    expect(await statusOf('flaky-1')).toMatchObject({ status: 'COMPLETED', retry_count: 1 });
    expect(await statusOf('bad-1')).toMatchObject({ status: 'DEAD', retry_count: 2, last_error: 'boom' });
    expect(await statusOf('unrouted-1')).toMatchObject({
      status: 'DEAD',
      retry_count: 0,
      last_error: 'unrouted',
    });
    // bad-1 ran 3 times (first try + 2 retries); unrouted once; ok once.
    expect(seen.filter((s) => s === 'bad-1').length).toBe(3);
    expect(seen.filter((s) => s === 'unrouted-1').length).toBe(1);
    expect(seen.filter((s) => s === 'ok-2').length).toBe(1);
    const metrics = await p.metrics.registry.metrics();
    expect(metrics).toMatch(/fleet_dead_letters_total\{reason="unrouted"[^}]*\} 1/);
    expect(metrics).toMatch(/fleet_dead_letters_total\{reason="max_retries"[^}]*\} 1/);
    expect(metrics).toMatch(/fleet_persister_retries_total\{[^}]*\} 4/);
  });

  it('retry jobs carry the retry count and a backoff delay', async () => {
    await w.pause();
    await publish(h, ['late-1']);
    await waitUntil(
      async () => (await count(h, 'SELECT count(*) AS n FROM messages WHERE id = $1', ['late-1'])) === 1,
      10_000,
      'row',
    );
    // Fail it by hand through the status stream, as a worker would.
    await h.redis.xadd(h.keys.statusStream(0), '*', 'i', 'late-1', 's', 'FAILED', 'n', '0', 'x', 'nope');
    await waitUntil(
      async () => (await q.getDelayedCount()) + (await q.getWaitingCount()) >= 2,
      10_000,
      'retry job',
    );
    const delayed = await q.getJobs(['delayed', 'waiting']);
    const retry = delayed.find((j) => j.id?.startsWith('r-'));
    expect(retry?.id).toMatch(/^r-.+-1$/);
    expect(retry?.data.messages[0]).toMatchObject({ id: 'late-1', n: 1 });
    expect(retry?.opts.delay).toBe(20);
    w.resume();
  });
});
