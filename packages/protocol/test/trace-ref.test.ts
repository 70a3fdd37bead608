import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTraceparent } from '../src/envelope.js';
import { newMessageId } from '../src/ids.js';
import {
  derivedTraceMark,
  isDerivedTraceMark,
  isTraceableId,
  isTraceRef,
  resolveTraceparent,
} from '../src/trace-ref.js';

// The rule as a regex: the reference the hand-written scanner must agree with (a lowercase UUID whose
// trace id and last 16 hex digits are not all zeros).
const TRACEABLE =
  /^(?!0{8}-0{4}-0{4}-0{4}-0{12}$)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-(?!0{4}-0{12}$)[0-9a-f]{4}-[0-9a-f]{12}$/;
const ID = '0190a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b';
const hexOf = (id: string) => id.replaceAll('-', '');

describe('trace references', () => {
  it('a derived mark stands for the id: trace id = its 32 hex digits, parent span = its last 16', () => {
    expect(resolveTraceparent('01', ID)).toBe('00-0190a3b4c5d67e8f9a0b1c2d3e4f5a6b-9a0b1c2d3e4f5a6b-01');
    expect(resolveTraceparent('00', ID)).toBe('00-0190a3b4c5d67e8f9a0b1c2d3e4f5a6b-9a0b1c2d3e4f5a6b-00');
    expect(derivedTraceMark(1)).toBe('01');
    expect(derivedTraceMark(0x1ff)).toBe('ff');
  });

  it('a traceparent resolves to itself; none, or a mark of an id that cannot carry a trace, to undefined', () => {
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    expect(resolveTraceparent(tp, ID)).toBe(tp);
    expect(resolveTraceparent(undefined, ID)).toBeUndefined();
    expect(resolveTraceparent('', ID)).toBeUndefined();
    expect(resolveTraceparent('01', 'order-42')).toBeUndefined();
    expect(resolveTraceparent('01', ID.toUpperCase())).toBeUndefined();
    expect(resolveTraceparent('0g', ID)).toBeUndefined();
    expect(resolveTraceparent('01', '01234567-89ab-cdef-0000-000000000000')).toBeUndefined();
    expect(isTraceRef('01', ID)).toBe(true);
    expect(isTraceRef('01', 'order-42')).toBe(false);
    expect(isTraceRef(tp, 'order-42')).toBe(true);
  });

  it('every id the fleet makes carries its trace: a valid W3C traceparent for every mark', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 47 }), fc.integer({ min: 0, max: 255 }), (now, flags) => {
        const id = newMessageId(now);
        expect(isTraceableId(id)).toBe(true);
        const tp = resolveTraceparent(derivedTraceMark(flags), id)!;
        expect(isTraceparent(tp)).toBe(true);
        expect(tp.slice(3, 35)).toBe(hexOf(id));
        expect(tp.slice(36, 52)).toBe(hexOf(id).slice(16));
        expect(Number.parseInt(tp.slice(53), 16)).toBe(flags);
      }),
    );
  });

  it('isTraceableId agrees with the reference rule on mutations of a UUID and on arbitrary strings', () => {
    const alphabet = fc.constantFrom(...'0123456789abcdefABX-');
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(35), alphabet), { maxLength: 3 }), (edits) => {
        const chars = ID.split('');
        for (const [i, c] of edits) chars[i] = c;
        const s = chars.join('');
        expect(isTraceableId(s)).toBe(TRACEABLE.test(s));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        expect(isTraceableId(s)).toBe(TRACEABLE.test(s));
        // Whatever the reference: a mark resolves to a valid traceparent or to nothing, never throws.
        const tp = resolveTraceparent('01', s);
        if (tp !== undefined) expect(isTraceparent(tp)).toBe(true);
      }),
    );
    for (const zero of ['00000000-0000-0000-0000-000000000000', '01234567-89ab-cdef-0000-000000000000'])
      expect(isTraceableId(zero)).toBe(false);
    expect(isDerivedTraceMark('01')).toBe(true);
    expect(isDerivedTraceMark('0F')).toBe(false);
  });
});
