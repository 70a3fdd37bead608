import { describe, expect, it } from 'vitest';
import { PatternError, patternError, TopicRouter } from '../src/index.js';

const noop = () => {};

describe('pattern validation', () => {
  it.each([
    ['', /empty/],
    ['a..b', /segment 2 is empty/],
    ['.a', /segment 1 is empty/],
    ['a.', /segment 2 is empty/],
    ['a*', /wildcard must be a whole segment/],
    ['a.b#', /wildcard must be a whole segment/],
    ['**', /wildcard must be a whole segment/],
    ['a.b c', /characters other than/],
    ['a/b', /characters other than/],
    ['é', /characters other than/],
    ['a'.repeat(256), /longer than 255/],
  ])('rejects %j', (pattern, reason) => {
    const r = new TopicRouter();
    let err: unknown;
    try {
      r.subscribe(pattern, noop);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PatternError);
    expect((err as PatternError).message).toMatch(reason);
    expect((err as PatternError).pattern).toBe(pattern);
    expect(r.size).toBe(0);
  });

  it.each(['a', 'a.b', '*', '#', 'a.#', '#.a', 'a.*.#', '#.#', 'A-b_9.*'])('accepts %j', (pattern) => {
    expect(patternError(pattern)).toBeNull();
  });

  it('rejects bad options with RangeError / TypeError', () => {
    const r = new TopicRouter();
    expect(() => r.subscribe('a', noop, { priority: 11 })).toThrow(RangeError);
    expect(() => r.subscribe('a', noop, { priority: -1 })).toThrow(RangeError);
    expect(() => r.subscribe('a', noop, { priority: 1.5 })).toThrow(RangeError);
    expect(() => r.subscribe('a', noop, { timeoutMs: 0 })).toThrow(RangeError);
    expect(() => r.subscribe('a', 'nope' as never)).toThrow(TypeError);
  });
});
