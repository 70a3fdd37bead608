import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TopicRouter } from '../src/index.js';

/** Reference matcher: the pattern as a regex over "." + topic (`#` = any number of ".segment"). */
function referenceMatch(pattern: string, topic: string): boolean {
  const re = pattern
    .split('.')
    .map((s) => (s === '#' ? '(?:\\.[^.]+)*' : s === '*' ? '\\.[^.]+' : `\\.${s}`))
    .join('');
  return new RegExp(`^${re}$`).test(`.${topic}`);
}

// A small alphabet so that random patterns and topics actually meet.
const literal = fc.constantFrom('a', 'b', 'c');
const patternSeg = fc.constantFrom('a', 'b', 'c', '*', '#');
const pattern = fc.array(patternSeg, { minLength: 1, maxLength: 6 }).map((s) => s.join('.'));
const topic = fc.array(literal, { minLength: 1, maxLength: 7 }).map((s) => s.join('.'));

describe('matching agrees with a reference matcher', () => {
  it('one pattern, one topic', () => {
    fc.assert(
      fc.property(pattern, topic, (p, t) => {
        const r = new TopicRouter();
        r.subscribe(p, () => {});
        expect(r.match(t).length === 1).toBe(referenceMatch(p, t));
      }),
      { numRuns: 3000 },
    );
  });

  it('many patterns, many topics, with priorities ordering the result', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(pattern, fc.integer({ min: 0, max: 10 })), { minLength: 1, maxLength: 40 }),
        fc.array(topic, { minLength: 1, maxLength: 20 }),
        (subs, topics) => {
          const r = new TopicRouter();
          const ids = subs.map(([p, priority]) => r.subscribe(p, () => {}, { priority }));
          for (const t of topics) {
            const expected = subs
              .map(([p, priority], i) => ({ id: ids[i]!, priority, i, hit: referenceMatch(p, t) }))
              .filter((x) => x.hit)
              .sort((a, b) => b.priority - a.priority || a.i - b.i)
              .map((x) => x.id);
            // twice: the second answer comes from the cache
            expect(r.match(t).map((s) => s.id)).toEqual(expected);
            expect(r.match(t).map((s) => s.id)).toEqual(expected);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('unsubscribing leaves the same matches as never subscribing', () => {
    fc.assert(
      fc.property(
        fc.array(pattern, { minLength: 1, maxLength: 20 }),
        fc.array(fc.boolean()),
        topic,
        (ps, drop, t) => {
          const r = new TopicRouter();
          const ids = ps.map((p) => r.subscribe(p, () => {}));
          r.match(t); // warm the cache: unsubscribe must invalidate it
          const kept = ids.filter((id, i) => (drop[i] ? !r.unsubscribe(id) : true));
          const expected = kept.filter((id) => referenceMatch(ps[ids.indexOf(id)]!, t));
          expect(
            r
              .match(t)
              .map((s) => s.id)
              .sort(),
          ).toEqual(expected.sort());
        },
      ),
      { numRuns: 500 },
    );
  });
});
