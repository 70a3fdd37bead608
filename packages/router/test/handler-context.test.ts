import { describe, expect, it } from 'vitest';
import { type HandlerContext, noopLogger, TopicRouter } from '../src/index.js';
import { envelope } from './test-envelope.js';

const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('handler context and replies', () => {
  it('exposes payload, json, text, topic, trace, attempt and a child logger', async () => {
    const r = new TopicRouter();
    let seen: HandlerContext | undefined;
    let parsed: unknown;
    r.subscribe('order.*', (ctx) => {
      seen = ctx;
      parsed = ctx.json();
    });
    const bindings: unknown[] = [];
    const logger = {
      ...noopLogger,
      child: (b: Record<string, unknown>) => {
        bindings.push(b);
        return noopLogger;
      },
    };
    await r.route(envelope('order.created', { qty: 2 }, { traceparent: TP }), { attempt: 2, logger });
    expect(parsed).toEqual({ qty: 2 });
    expect(seen!.text()).toBe('{"qty":2}');
    expect(seen!.topic).toBe('order.created');
    expect(seen!.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(seen!.traceparent).toBe(TP);
    expect(seen!.attempt).toBe(2);
    // The message-bound child is made when a line is written (LazyChildLogger), not per message.
    expect(bindings).toEqual([]);
    seen!.logger.info('handled');
    expect(bindings).toEqual([{ handler: 'order.*', topic: 'order.created', msgId: seen!.envelope.id }]);
  });

  it('reply() outside a request throws and fails the message', async () => {
    const r = new TopicRouter();
    r.subscribe('e', (ctx) => ctx.reply('x'));
    const out = await r.route(envelope('e'));
    expect(out.status).toBe('failed');
    expect(String(out.errors[0]!.error)).toMatch(/not a request/);
  });

  it('request: ctx.reply wins over return values; first reply wins', async () => {
    const r = new TopicRouter();
    r.subscribe('q', (ctx) => ctx.reply({ a: 1 }), { priority: 9 });
    r.subscribe('q', (ctx) => {
      ctx.reply('second');
      return 'returned';
    });
    const out = await r.route(envelope('q'), { isRequest: true });
    expect(out.status).toBe('completed');
    expect(Buffer.from(out.reply!).toString()).toBe('{"a":1}');
  });

  it('request: an async return value becomes the reply; bytes pass as-is', async () => {
    const r = new TopicRouter();
    r.subscribe('math.add', async (ctx) => {
      const { a, b } = ctx.json<{ a: number; b: number }>();
      return a + b;
    });
    r.subscribe('bytes', () => new Uint8Array([1, 2, 3]));
    expect(
      Buffer.from(
        (await r.route(envelope('math.add', { a: 2, b: 3 }), { isRequest: true })).reply!,
      ).toString(),
    ).toBe('5');
    expect([...(await r.route(envelope('bytes'), { isRequest: true })).reply!]).toEqual([1, 2, 3]);
    // not a request: the return value is ignored
    expect((await r.route(envelope('bytes'))).reply).toBeUndefined();
  });
});
