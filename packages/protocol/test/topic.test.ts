import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, ProtocolError } from '../src/errors.js';
import { assertValidTopic, MAX_TOPIC_LENGTH, topicError } from '../src/topic.js';
import { topicArb } from './arbitraries.js';

describe('published topic rules', () => {
  it('accepts dot-separated segments of [A-Za-z0-9_-]', () => {
    for (const t of ['a', 'orders', 'orders.created', 'A-b_9.x.Y', 'x'.repeat(MAX_TOPIC_LENGTH)]) {
      expect(topicError(t)).toBeNull();
    }
    fc.assert(
      fc.property(topicArb, (t) => {
        expect(topicError(t)).toBeNull();
      }),
    );
  });

  it('rejects empty, too long, empty segments, wildcards and other characters', () => {
    const bad = ['', '.', 'a.', '.a', 'a..b', '*', 'a.*', '#', 'a.#', 'a b', 'a/b', 'é', 'x'.repeat(256)];
    for (const t of bad) expect(topicError(t), t).not.toBeNull();
  });

  it('assertValidTopic throws ProtocolError INVALID_TOPIC', () => {
    // Mutation checked: with assertValidTopic made not to throw for 'a..b', this test fails (it used to
    // assert inside a catch that never ran).
    expect(() => assertValidTopic('a.*')).toThrow(ProtocolError);
    let caught: unknown;
    try {
      assertValidTopic('a..b');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ProtocolError);
    expect((caught as ProtocolError).code).toBe(ErrorCode.INVALID_TOPIC);
  });

  it('any string with a character outside the set is rejected', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }), (s) => {
        if (!/^[A-Za-z0-9_.-]*$/.test(s)) expect(topicError(s)).not.toBeNull();
      }),
    );
  });
});
