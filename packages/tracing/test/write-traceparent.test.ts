import { isTraceparent } from '@fleet/protocol';
import { describe, expect, it } from 'vitest';
import { parseTraceparent, TRACEPARENT_LENGTH, writeTraceparent } from '../src/index.js';

describe('writeTraceparent', () => {
  it('writes valid, distinct traceparents in place with the given flags', () => {
    const seen = new Set<string>();
    const buf = Buffer.alloc(TRACEPARENT_LENGTH + 4, 0x7e);
    for (let i = 0; i < 10_000; i++) {
      const flags = i % 2;
      writeTraceparent(buf, 2, flags);
      const s = buf.toString('latin1', 2, 2 + TRACEPARENT_LENGTH);
      expect(isTraceparent(s)).toBe(true);
      expect(parseTraceparent(s)!.flags).toBe(flags);
      seen.add(s.slice(3, 35));
    }
    expect(seen.size).toBe(10_000);
    // Nothing outside the 55 bytes is touched.
    expect([buf[0], buf[1], buf[TRACEPARENT_LENGTH + 2], buf[TRACEPARENT_LENGTH + 3]]).toEqual([
      0x7e, 0x7e, 0x7e, 0x7e,
    ]);
  });

  // The gateway writes into slices of a shared slab (resp.ts): writes go through a DataView over the
  // whole ArrayBuffer, so dst's own offset in it counts. Without it (o = off), the id landed 13 bytes
  // early, in the neighbour's bytes, and this test failed.
  it('writes at dst[off] of a slice that starts inside a larger buffer, and nowhere else', () => {
    const whole = Buffer.alloc(200, 0x7e);
    const slice = whole.subarray(13, 13 + TRACEPARENT_LENGTH + 10);
    writeTraceparent(slice, 5, 1);
    const s = slice.toString('latin1', 5, 5 + TRACEPARENT_LENGTH);
    expect(isTraceparent(s)).toBe(true);
    const outside = [...whole.subarray(0, 18), ...whole.subarray(18 + TRACEPARENT_LENGTH)];
    expect(outside.every((b) => b === 0x7e)).toBe(true);
    expect(() => writeTraceparent(slice, 11, 1)).toThrow(RangeError);
  });
});
