import { TopicRouter } from '@fleet/router';
import { createLogger } from '@fleet/tracing';
import { startWorker, type WorkerApp } from '@fleet/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Persister, startPersister } from '../src/persister.js';
import { count, type Harness, harness, memoryLogger, publish, waitUntil } from './harness.js';

describe('persister with the real worker (apps/worker)', () => {
  let h: Harness;
  let p: Persister;
  let w: WorkerApp;
  const calls = new Map<string, number>();

  beforeAll(async () => {
    h = await harness('worker', {
      retry: { max_retries: 1, backoff_ms: 10, backoff_max_ms: 50 },
      monitoring: { enabled: false },
      queue: { batch_size: 4 },
    });
    p = await startPersister(h.cfg, { logger: memoryLogger(), ops: false, consumerName: 'worker-a' });
    const router = new TopicRouter();
    router.subscribe('orders.*', (ctx) => {
      calls.set(ctx.envelope.id, (calls.get(ctx.envelope.id) ?? 0) + 1);
    });
    router.subscribe('pay.fail', (ctx) => {
      calls.set(ctx.envelope.id, (calls.get(ctx.envelope.id) ?? 0) + 1);
      throw new Error('card declined');
    });
    w = await startWorker(h.cfg, { router, logger: createLogger({ name: 'worker', level: 'silent' }) });
  });
  afterAll(async () => {
    await w?.close();
    await p?.close();
    await h?.close();
  });

  it('COMPLETED, retried then DEAD, and unrouted DEAD', async () => {
    await publish(h, ['w-1', 'w-2', 'w-3'], { topic: 'orders.created' });
    await publish(h, ['w-fail'], { topic: 'pay.fail' });
    await publish(h, ['w-nobody'], { topic: 'nobody.listens' });
    await waitUntil(
      async () =>
        (await count(h, "SELECT count(*) AS n FROM messages WHERE status IN ('COMPLETED', 'DEAD')")) === 5,
      30_000,
      'final statuses',
    );
    const rows = await h.pool.query('SELECT id, status, retry_count, last_error FROM messages ORDER BY id');
    const by = Object.fromEntries(rows.rows.map((r) => [r.id, r]));
    expect(by['w-1']).toMatchObject({ status: 'COMPLETED', retry_count: 0 });
    expect(by['w-fail']).toMatchObject({ status: 'DEAD', retry_count: 1 });
    expect(by['w-fail'].last_error).toMatch(/card declined/);
    expect(by['w-nobody']).toMatchObject({ status: 'DEAD', last_error: 'unrouted' });
    expect(calls.get('w-fail')).toBe(2);
    expect(calls.get('w-2')).toBe(1);
  });
});
