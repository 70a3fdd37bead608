import { TopicRouter } from '@fleet/router';
import { afterAll, describe, expect, it } from 'vitest';
import { startWorker } from '../src/index.js';
import { envelope, FleetProbe, jobMessage, sleep, testConfig, waitUntil } from './helpers.js';

describe('graceful shutdown', () => {
  const cfg = testConfig({ handlers: { shutdown_timeout_ms: 400, timeout_ms: 20_000 } });
  const probe = new FleetProbe(cfg);
  afterAll(() => probe.close());

  it('finishes in-flight messages up to the deadline, aborts the rest and hands them back to the queue', async () => {
    const started = new Set<string>();
    let abortedSignal: AbortSignal | undefined;
    const router = new TopicRouter();
    router.subscribe('quick', async (ctx) => {
      started.add(ctx.envelope.id);
      await sleep(150);
    });
    router.subscribe('stuck', (ctx) => {
      started.add(ctx.envelope.id);
      abortedSignal = ctx.signal;
      return new Promise(() => {}); // ignores its signal on purpose
    });
    const app = await startWorker(cfg, { router });
    const quick = jobMessage(envelope('quick'));
    const stuck = jobMessage(envelope('stuck'));
    await probe.enqueue([[quick, stuck]]);
    await waitUntil(() => started.size === 2, 5_000, 'both handlers started');

    const t0 = Date.now();
    await app.close();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(350);
    expect(abortedSignal?.aborted).toBe(true);

    const finals = (await probe.statuses()).filter((s) => s.status !== 'PROCESSING');
    expect(finals).toEqual([{ id: quick.id, status: 'COMPLETED', attempt: 0 }]);
    const waiting = await probe.queue.getWaiting();
    expect(waiting.map((j) => j.data.messages.map((m: { id: string }) => m.id))).toEqual([[stuck.id]]);

    // Another worker picks the returned message up.
    const next = new TopicRouter();
    next.subscribe('stuck', () => {});
    const app2 = await startWorker(cfg, { router: next });
    try {
      const out = await probe.waitForOutcomes([stuck.id]);
      expect(out.get(stuck.id)).toEqual([{ id: stuck.id, status: 'COMPLETED', attempt: 0 }]);
    } finally {
      await app2.close();
    }
  });

  it('closes promptly when idle', async () => {
    const app = await startWorker(cfg, { router: new TopicRouter() });
    const t0 = Date.now();
    await app.close();
    expect(Date.now() - t0).toBeLessThan(3_000);
  });
});
