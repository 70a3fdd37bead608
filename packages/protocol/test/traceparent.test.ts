import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTraceparent } from '../src/envelope.js';

// The W3C grammar as a regex: the reference the hand-written scanner must agree with.
const REFERENCE = /^[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;
const VALID = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('isTraceparent', () => {
  it('accepts the W3C example and rejects all-zero ids', () => {
    expect(isTraceparent(VALID)).toBe(true);
    expect(isTraceparent(`00-${'0'.repeat(32)}-00f067aa0ba902b7-01`)).toBe(false);
    expect(isTraceparent(`00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`)).toBe(false);
    expect(isTraceparent(VALID.toUpperCase())).toBe(false);
  });

  it('agrees with the reference grammar on mutations of a valid header', () => {
    const alphabet = fc.constantFrom(...'0123456789abcdefABX-');
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(54), alphabet), { maxLength: 3 }), (edits) => {
        const chars = VALID.split('');
        for (const [i, c] of edits) chars[i] = c;
        const s = chars.join('');
        expect(isTraceparent(s)).toBe(REFERENCE.test(s));
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with the reference grammar on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        expect(isTraceparent(s)).toBe(REFERENCE.test(s));
      }),
    );
  });
});
