import { decodeReply, formatReplyAddress } from '@fleet/protocol';
import { TopicRouter } from '@fleet/router';
import { TraceContext } from '@fleet/tracing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, type WorkerApp } from '../src/index.js';
import { envelope, FleetProbe, jobMessage, testConfig, waitUntil } from './helpers.js';

describe('worker: per-message outcomes in the status stream', () => {
  const cfg = testConfig({ handlers: { timeout_ms: 200 }, thread_pools: { work: { workers: 4 } } });
  const probe = new FleetProbe(cfg);
  let app: WorkerApp;
  const seen: string[] = [];
  const traces: Array<[string, string | undefined, string | undefined]> = [];

  beforeAll(async () => {
    const router = new TopicRouter();
    router.subscribe('order.#', (ctx) => void seen.push(ctx.envelope.id));
    router.subscribe('boom.*', () => {
      throw new Error('kaput');
    });
    router.subscribe('slow', () => new Promise(() => {}), { name: 'stuck' });
    router.subscribe('math.add', (ctx) => {
      const { a, b } = ctx.json<{ a: number; b: number }>();
      return a + b;
    });
    router.subscribe('trace.check', (ctx) => {
      traces.push([ctx.traceId, TraceContext.get()?.traceId, ctx.traceparent]);
    });
    router.subscribe('math.fail', () => {
      throw new Error('no math today');
    });
    app = await startWorker(cfg, { router });
  });

  afterAll(async () => {
    await app?.close();
    await probe.close();
  });

  it('reports PROCESSING then COMPLETED / FAILED / DEAD for each message of a batch', async () => {
    const ok1 = envelope('order.created');
    const ok2 = envelope('order');
    const bad = envelope('boom.x');
    const slow = envelope('slow');
    const lost = envelope('nobody.listens');
    const msgs = [ok1, bad, slow, ok2, lost].map((e) => jobMessage(e, { n: 2 }));
    await probe.enqueue([msgs]);
    const out = await probe.waitForOutcomes(msgs.map((m) => m.id));
    const one = (id: string) => out.get(id)!;
    expect(one(ok1.id)).toEqual([{ id: ok1.id, status: 'COMPLETED', attempt: 2 }]);
    expect(one(ok2.id)[0]!.status).toBe('COMPLETED');
    expect(one(bad.id)).toEqual([{ id: bad.id, status: 'FAILED', attempt: 2, error: 'boom.*: kaput' }]);
    expect(one(slow.id)[0]).toMatchObject({
      status: 'FAILED',
      error: 'stuck: timed out after 200 ms',
    });
    expect(one(lost.id)).toEqual([{ id: lost.id, status: 'DEAD', attempt: 2, error: 'unrouted' }]);
    expect(seen).toEqual(expect.arrayContaining([ok1.id, ok2.id]));
    const processing = (await probe.statuses()).filter((s) => s.status === 'PROCESSING').map((s) => s.id);
    expect(processing.sort()).toEqual(msgs.map((m) => m.id).sort());
  });

  it('handlers run inside the message trace (job traceparent or derived mark, else the envelope one)', async () => {
    const fromJob = '00-11111111111111111111111111111111-2222222222222222-01';
    const fromEnv = '00-33333333333333333333333333333333-4444444444444444-01';
    const uuid = '0190a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b';
    const a = jobMessage(envelope('trace.check'), { t: fromJob });
    const b = jobMessage(envelope('trace.check', '', { traceparent: fromEnv }));
    // A derived mark (the gateway's for a UUID id, spans off): the trace is the id's.
    const c = jobMessage(envelope('trace.check', '', { id: uuid }), { t: '01' });
    await probe.enqueue([[a], [b], [c]]);
    await probe.waitForOutcomes([a.id, b.id, c.id]);
    expect(traces.sort()).toEqual([
      [
        '0190a3b4c5d67e8f9a0b1c2d3e4f5a6b',
        '0190a3b4c5d67e8f9a0b1c2d3e4f5a6b',
        '00-0190a3b4c5d67e8f9a0b1c2d3e4f5a6b-9a0b1c2d3e4f5a6b-01',
      ],
      ['11111111111111111111111111111111', '11111111111111111111111111111111', fromJob],
      ['33333333333333333333333333333333', '33333333333333333333333333333333', fromEnv],
    ]);
  });

  it('an undecodable envelope goes DEAD without failing the rest of its batch', async () => {
    const good = envelope('order.x');
    await probe.enqueue([
      [{ id: 'garbage-1', e: Buffer.from('nope').toString('base64'), n: 0 }, jobMessage(good)],
    ]);
    const out = await probe.waitForOutcomes(['garbage-1', good.id]);
    expect(out.get('garbage-1')![0]).toMatchObject({ status: 'DEAD' });
    expect(out.get('garbage-1')![0]!.error).toMatch(/^undecodable envelope/);
    expect(out.get(good.id)![0]!.status).toBe('COMPLETED');
  });

  it('a message past its ttl goes DEAD as expired without running a handler; a request gets that error', async () => {
    const sub = new Redis(cfg.redis.url);
    const replies: unknown[] = [];
    await sub.subscribe(probe.keys.replyChannel('gw-1'));
    sub.on('message', (_channel, text) => replies.push(decodeReply(text)));
    const old = Date.now() - 10_000;
    const expired = envelope('order.late', '', { timestamp: old, ttl: 1_000 });
    const alive = envelope('order.fresh', '', { timestamp: old, ttl: 60_000 });
    const late = envelope('math.add', { a: 1, b: 1 }, { type: 'query', timestamp: old, ttl: 1_000 });
    await probe.enqueue([
      [
        jobMessage(expired),
        jobMessage(alive),
        jobMessage(late, { r: formatReplyAddress({ gatewayId: 'gw-1', correlationId: 'c-late' }) }),
      ],
    ]);
    const out = await probe.waitForOutcomes([expired.id, alive.id, late.id]);
    expect(out.get(expired.id)).toEqual([{ id: expired.id, status: 'DEAD', attempt: 0, error: 'expired' }]);
    expect(out.get(late.id)![0]).toMatchObject({ status: 'DEAD', error: 'expired' });
    expect(out.get(alive.id)![0]!.status).toBe('COMPLETED');
    expect(seen).toContain(alive.id);
    expect(seen).not.toContain(expired.id);
    await waitUntil(() => replies.length === 1, 10_000, 'the expired request answered');
    sub.disconnect();
    expect(replies[0]).toMatchObject({ correlationId: 'c-late', ok: false, error: 'expired' });
  });

  it('requests: the reply (or the error) is published on the gateway reply channel', async () => {
    const sub = new Redis(cfg.redis.url);
    const replies: unknown[] = [];
    await sub.subscribe(probe.keys.replyChannel('gw-1'));
    sub.on('message', (_channel, text) => replies.push(decodeReply(text)));
    const add = envelope('math.add', { a: 2, b: 40 }, { type: 'query' });
    const fail = envelope('math.fail', '', { type: 'query' });
    const none = envelope('math.none', '', { type: 'query' });
    await probe.enqueue([
      [
        jobMessage(add, { r: formatReplyAddress({ gatewayId: 'gw-1', correlationId: 'c-add' }) }),
        jobMessage(fail, { r: formatReplyAddress({ gatewayId: 'gw-1', correlationId: 'c-fail' }) }),
        jobMessage(none, { r: formatReplyAddress({ gatewayId: 'gw-1', correlationId: 'c-none' }) }),
      ],
    ]);
    await waitUntil(() => replies.length === 3, 10_000, 'three replies');
    sub.disconnect();
    const byId = new Map(
      replies.map((r) => [(r as { correlationId: string }).correlationId, r as Record<string, unknown>]),
    );
    expect(Buffer.from(byId.get('c-add')!.payload as Uint8Array).toString()).toBe('42');
    expect(byId.get('c-add')!.ok).toBe(true);
    expect(byId.get('c-fail')).toMatchObject({ ok: false, error: 'math.fail: no math today' });
    expect(byId.get('c-none')).toMatchObject({ ok: false, error: 'unrouted' });
    const out = await probe.waitForOutcomes([add.id, fail.id]);
    expect(out.get(add.id)![0]!.status).toBe('COMPLETED');
    expect(out.get(fail.id)![0]!.status).toBe('FAILED');
  });
});

describe('worker: handlers.unrouted = complete', () => {
  it('completes (and counts) messages nobody subscribed to', async () => {
    const cfg = testConfig({ handlers: { unrouted: 'complete' } });
    const probe = new FleetProbe(cfg);
    const app = await startWorker(cfg, { router: new TopicRouter() });
    try {
      const m = jobMessage(envelope('nobody.home'));
      await probe.enqueue([[m]]);
      const out = await probe.waitForOutcomes([m.id]);
      expect(out.get(m.id)).toEqual([{ id: m.id, status: 'COMPLETED', attempt: 0 }]);
    } finally {
      await app.close();
      await probe.close();
    }
  });
});
