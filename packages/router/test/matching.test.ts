import { describe, expect, it } from 'vitest';
import { TopicRouter } from '../src/index.js';

const noop = () => {};

function matches(pattern: string, topic: string): boolean {
  const r = new TopicRouter();
  r.subscribe(pattern, noop);
  return r.match(topic).length === 1;
}

// [pattern, topic, expected]
const table: Array<[string, string, boolean]> = [
  ['order.created', 'order.created', true],
  ['order.created', 'order.updated', false],
  ['order.created', 'order', false],
  ['order.created', 'order.created.eu', false],
  // * = exactly one segment
  ['order.*', 'order.created', true],
  ['order.*', 'order', false],
  ['order.*', 'order.a.b', false],
  ['*', 'a', true],
  ['*', 'a.b', false],
  ['*.b', 'a.b', true],
  ['*.b', 'b', false],
  ['*.b', 'a.x.b', false],
  ['*.*', 'a.b', true],
  ['*.*', 'a', false],
  // # = zero or more segments
  ['#', 'a', true],
  ['#', 'a.b.c.d', true],
  ['order.#', 'order', true],
  ['order.#', 'order.a', true],
  ['order.#', 'order.a.b', true],
  ['order.#', 'orders.a', false],
  ['order.#', 'x.order', false],
  ['a.#', 'a', true],
  ['a', 'a.b', false],
  ['#.b', 'b', true],
  ['#.b', 'a.b', true],
  ['#.b', 'a.c.b', true],
  ['#.b', 'b.a', false],
  ['a.*.#', 'a', false],
  ['a.*.#', 'a.b', true],
  ['a.*.#', 'a.b.c.d', true],
  ['a.#.b', 'a.b', true],
  ['a.#.b', 'a.x.y.b', true],
  ['a.#.b', 'a.x.y', false],
  ['#.#', 'a', true],
  ['#.a.#', 'a', true],
  ['#.a.#', 'x.a.y', true],
  ['#.a.#', 'x.y', false],
  ['*.#', 'a', true],
  ['#.*', 'a.b.c', true],
  ['a.#.#.b', 'a.b', true],
  ['Order_1.x-y', 'Order_1.x-y', true],
  ['order.created', 'Order.created', false],
];

describe('wildcard rules', () => {
  it.each(table)('%s vs %s -> %s', (pattern, topic, expected) => {
    expect(matches(pattern, topic)).toBe(expected);
  });

  it('returns a subscription once even when several paths through # reach it', () => {
    const r = new TopicRouter();
    r.subscribe('#.#.#', noop);
    r.subscribe('#.a.#.a.#', noop);
    expect(r.match('a.a.a.a').length).toBe(2);
  });

  it('matches many subscriptions of one topic together', () => {
    const r = new TopicRouter();
    const ids = ['order.created', 'order.*', 'order.#', '#', '*.created', 'other.#'].map((p) =>
      r.subscribe(p, noop),
    );
    expect(
      r
        .match('order.created')
        .map((s) => s.id)
        .sort(),
    ).toEqual(ids.slice(0, 5).sort());
  });

  it('handles long topics with several # without blowing up', () => {
    const r = new TopicRouter({ cacheSize: 0 });
    r.subscribe('#.#.#.#.#.#.z', noop);
    const topic = Array.from({ length: 120 }, () => 'a').join('.');
    expect(r.match(topic)).toEqual([]);
    expect(r.match(`${topic}.z`).length).toBe(1);
  });
});
