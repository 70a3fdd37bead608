import { describe, expect, it } from 'vitest';
import { HandlerAbortedError, HandlerTimeoutError, TopicRouter } from '../src/index.js';
import { envelope } from './test-envelope.js';

describe('handler failures', () => {
  it('a throwing handler fails the message; the others still run', async () => {
    const r = new TopicRouter();
    const ran: string[] = [];
    r.subscribe(
      'p.#',
      () => {
        throw new Error('sync boom');
      },
      { name: 'sync', priority: 9 },
    );
    r.subscribe(
      'p.#',
      async () => {
        throw new Error('async boom');
      },
      { name: 'async' },
    );
    r.subscribe('p.#', () => void ran.push('ok'), { priority: 0 });
    const out = await r.route(envelope('p.x'));
    expect(out.status).toBe('failed');
    expect(out.handled).toBe(3);
    expect(ran).toEqual(['ok']);
    expect(out.errors.map((e) => `${e.subscription.name}: ${(e.error as Error).message}`)).toEqual([
      'sync: sync boom',
      'async: async boom',
    ]);
  });

  it('a slow handler times out: the message fails and its signal is aborted', async () => {
    const r = new TopicRouter();
    let signal: AbortSignal | undefined;
    let ranAfter = false;
    r.subscribe(
      'slow',
      (ctx) => {
        signal = ctx.signal;
        return new Promise((res) => setTimeout(res, 5_000));
      },
      { timeoutMs: 30, priority: 9 },
    );
    r.subscribe('slow', () => {
      ranAfter = true;
    });
    const t0 = Date.now();
    const out = await r.route(envelope('slow'));
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(out.status).toBe('failed');
    expect(out.errors[0]!.error).toBeInstanceOf(HandlerTimeoutError);
    expect(signal!.aborted).toBe(true);
    expect(signal!.reason).toBeInstanceOf(HandlerTimeoutError);
    expect(ranAfter).toBe(true);
  });

  it('a handler that never resolves times out using the route timeout; a late signal read is already aborted', async () => {
    const r = new TopicRouter();
    let late: AbortSignal | undefined;
    r.subscribe('never', (ctx) => {
      setTimeout(() => {
        late = ctx.signal;
      }, 60);
      return new Promise(() => {});
    });
    const out = await r.route(envelope('never'), { timeoutMs: 20 });
    expect(out.status).toBe('failed');
    expect((out.errors[0]!.error as Error).message).toBe('timed out after 20 ms');
    await new Promise((res) => setTimeout(res, 80));
    expect(late!.aborted).toBe(true);
  });

  it('the route signal (shutdown) aborts running handlers and skips later groups: outcome aborted', async () => {
    const r = new TopicRouter();
    let handlerSignal: AbortSignal | undefined;
    let lowRan = false;
    r.subscribe(
      'job',
      (ctx) => {
        handlerSignal = ctx.signal;
        return new Promise(() => {});
      },
      { priority: 9 },
    );
    r.subscribe(
      'job',
      () => {
        lowRan = true;
      },
      { priority: 1 },
    );
    const shutdown = new AbortController();
    setTimeout(() => shutdown.abort(new Error('shutdown')), 20);
    const out = await r.route(envelope('job'), { signal: shutdown.signal });
    expect(out.status).toBe('aborted');
    expect(out.errors[0]!.error).toBeInstanceOf(HandlerAbortedError);
    expect(handlerSignal!.aborted).toBe(true);
    expect(lowRan).toBe(false);
  });

  it('an already-aborted route signal runs nothing', async () => {
    const r = new TopicRouter();
    let ran = false;
    r.subscribe('x', () => {
      ran = true;
    });
    const out = await r.route(envelope('x'), { signal: AbortSignal.abort() });
    expect(out.status).toBe('aborted');
    expect(ran).toBe(false);
  });

  it('a rejection after the timeout does not surface as an unhandled rejection', async () => {
    const r = new TopicRouter();
    r.subscribe('late', () => new Promise((_, rej) => setTimeout(() => rej(new Error('late')), 40)), {
      timeoutMs: 10,
    });
    const out = await r.route(envelope('late'));
    expect(out.status).toBe('failed');
    await new Promise((res) => setTimeout(res, 60));
    expect(out.errors.length).toBe(1);
  });
});
