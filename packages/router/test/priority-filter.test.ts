import { describe, expect, it } from 'vitest';
import { TopicRouter } from '../src/index.js';
import { envelope } from './test-envelope.js';

describe('priorities, filters, unsubscribe', () => {
  it('orders matches by priority (high first), then subscription order', () => {
    const r = new TopicRouter();
    r.subscribe('a.#', () => {}, { name: 'low', priority: 1 });
    r.subscribe('a.b', () => {}, { name: 'default1' });
    r.subscribe('*.b', () => {}, { name: 'high', priority: 9 });
    r.subscribe('#', () => {}, { name: 'default2' });
    r.subscribe('a.b', () => {}, { name: 'top', priority: 10 });
    expect(r.match('a.b').map((s) => s.name)).toEqual(['top', 'high', 'default1', 'default2', 'low']);
  });

  it('runs priority groups in order and equal priorities concurrently', async () => {
    const r = new TopicRouter();
    const log: string[] = [];
    const step = (name: string, ms: number) => async () => {
      log.push(`start ${name}`);
      await new Promise((res) => setTimeout(res, ms));
      log.push(`end ${name}`);
    };
    r.subscribe('t', step('low', 1), { priority: 0 });
    r.subscribe('t', step('hi-a', 20), { priority: 8 });
    r.subscribe('t', step('hi-b', 5), { priority: 8 });
    const out = await r.route(envelope('t'));
    expect(out).toMatchObject({ status: 'completed', handled: 3, errors: [] });
    expect(log).toEqual(['start hi-a', 'start hi-b', 'end hi-b', 'end hi-a', 'start low', 'end low']);
  });

  it('filters select handlers; every filter saying no means unrouted', async () => {
    const r = new TopicRouter();
    const seen: string[] = [];
    r.subscribe('order.#', () => void seen.push('eu'), { filter: (e) => e.headers.region === 'eu' });
    r.subscribe('order.#', () => void seen.push('us'), { filter: (e) => e.headers.region === 'us' });
    expect((await r.route(envelope('order.created', '', { headers: { region: 'eu' } }))).status).toBe(
      'completed',
    );
    expect(seen).toEqual(['eu']);
    expect((await r.route(envelope('order.created', '', { headers: { region: 'jp' } }))).status).toBe(
      'unrouted',
    );
  });

  it('a throwing filter fails the message, the other handlers still run', async () => {
    const r = new TopicRouter();
    let ran = false;
    r.subscribe('x', () => {}, {
      name: 'bad-filter',
      filter: () => {
        throw new Error('filter broke');
      },
    });
    r.subscribe('x', () => {
      ran = true;
    });
    const out = await r.route(envelope('x'));
    expect(out.status).toBe('failed');
    expect(ran).toBe(true);
    expect(out.errors.map((e) => [e.subscription.name, (e.error as Error).message])).toEqual([
      ['bad-filter', 'filter broke'],
    ]);
  });

  it('no subscription: unrouted', async () => {
    const r = new TopicRouter();
    r.subscribe('a.*', () => {});
    expect(await r.route(envelope('b.c'))).toEqual({ status: 'unrouted', errors: [], handled: 0 });
  });

  it('unsubscribe removes the handler and invalidates cached matches', async () => {
    const r = new TopicRouter();
    const a = r.subscribe('a.#', () => {});
    const b = r.subscribe('a.b', () => {});
    expect(r.match('a.b').length).toBe(2);
    expect(r.unsubscribe(a)).toBe(true);
    expect(r.unsubscribe(a)).toBe(false);
    expect(r.match('a.b').map((s) => s.id)).toEqual([b]);
    r.subscribe('#', () => {});
    expect(r.match('a.b').length).toBe(2);
    expect(r.unsubscribe(b)).toBe(true);
    expect(r.size).toBe(1);
  });

  it('clone keeps ids and is independent afterwards', () => {
    const r = new TopicRouter();
    const id = r.subscribe('a', () => {});
    const c = r.clone();
    c.subscribe('b', () => {});
    expect(c.match('a').map((s) => s.id)).toEqual([id]);
    expect(r.match('b')).toEqual([]);
    expect(c.subscribe('z', () => {})).not.toBe(id);
  });
});
