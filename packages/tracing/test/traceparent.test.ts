import { isTraceparent } from '@fleet/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatTraceparent, generateTraceInfo, generateTraceparent, parseTraceparent } from '../src/index.js';

const hex = (n: number) =>
  fc
    .string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n })
    .filter((s) => /[^0]/.test(s));

describe('traceparent', () => {
  it('format -> parse round trip keeps ids and flags', () => {
    fc.assert(
      fc.property(hex(32), hex(16), fc.integer({ min: 0, max: 255 }), (traceId, spanId, flags) => {
        const tp = formatTraceparent(traceId, spanId, flags);
        expect(parseTraceparent(tp)).toEqual({ traceId, spanId, flags, traceparent: tp });
      }),
    );
  });

  it('parse -> format round trip of any valid header', () => {
    fc.assert(
      fc.property(hex(32), hex(16), fc.integer({ min: 0, max: 255 }), (traceId, spanId, flags) => {
        const header = `00-${traceId}-${spanId}-${flags.toString(16).padStart(2, '0')}`;
        const t = parseTraceparent(header)!;
        expect(formatTraceparent(t.traceId, t.spanId, t.flags)).toBe(header);
      }),
    );
  });

  it('rejects malformed headers', () => {
    for (const bad of [
      '',
      'x',
      '00-00000000000000000000000000000000-b7ad6b7169203331-01',
      '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01',
      '00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01',
      'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra',
      '00_0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331_01',
    ]) {
      expect(parseTraceparent(bad), bad).toBeNull();
    }
    expect(parseTraceparent(undefined)).toBeNull();
  });

  it('never crashes on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        const t = parseTraceparent(s);
        if (t) expect(isTraceparent(s)).toBe(true);
      }),
    );
  });

  it('generates valid, distinct, sampled headers (pool refills included)', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const tp = generateTraceparent();
      expect(isTraceparent(tp)).toBe(true);
      expect(tp.endsWith('-01')).toBe(true);
      seen.add(tp.slice(3, 35));
    }
    expect(seen.size).toBe(5000);
    expect(generateTraceparent(0).endsWith('-00')).toBe(true);
    const info = generateTraceInfo();
    expect(parseTraceparent(info.traceparent)).toEqual(info);
  });
});
