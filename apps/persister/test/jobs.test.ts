import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchJobId, chunkJobMessages, retryDelayMs } from '../src/jobs.js';
import { safeMinId } from '../src/redis-streams.js';
import { compareStreamIds, nextStreamId } from '../src/stream-ids.js';

describe('job building', () => {
  const msg = (id: string, bytes = 10) => ({ id, e: 'x'.repeat(bytes), n: 0 });

  it('chunks by batch size and by bytes; an oversized message travels alone', () => {
    const ms = Array.from({ length: 7 }, (_, i) => msg(`m${i}`));
    expect(chunkJobMessages(ms, 3, 1e9).map((c) => c.length)).toEqual([3, 3, 1]);
    expect(
      chunkJobMessages([msg('a', 10), msg('b', 5000), msg('c', 10)], 100, 1000).map((c) =>
        c.map((m) => m.id),
      ),
    ).toEqual([['a'], ['b'], ['c']]);
  });

  it('job ids are deterministic, free of ":" and differ by kind and tag', () => {
    const a = batchJobId('i', [{ id: 'x:1' }, { id: 'y' }]);
    expect(a).toBe(batchJobId('i', [{ id: 'x:1' }, { id: 'y' }]));
    expect(a).not.toContain(':');
    expect(batchJobId('r', [{ id: 'x:1' }], 2)).toMatch(/^r-[A-Za-z0-9_-]+-2$/);
    expect(batchJobId('i', [{ id: 'x:1' }])).not.toBe(batchJobId('i', [{ id: 'x:1' }, { id: 'y' }]));
  });

  it('retry delay doubles and is capped', () => {
    expect([1, 2, 3, 4, 10].map((n) => retryDelayMs(n, 100, 500))).toEqual([100, 200, 400, 500, 500]);
  });
});

describe('stream ids and trimming', () => {
  it('compares numerically and finds the successor', () => {
    expect(compareStreamIds('9-0', '10-0')).toBe(-1);
    expect(compareStreamIds('10-2', '10-10')).toBe(-1);
    expect(compareStreamIds('10-2', '10-2')).toBe(0);
    expect(compareStreamIds('010-2', '9-0')).toBe(1); // leading zeros: the exact (BigInt) path
    // The string fast path agrees with BigInt order on any 64-bit parts.
    const part = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    fc.assert(
      fc.property(part, part, part, part, (am, as, bm, bs) => {
        const exact = am !== bm ? (am < bm ? -1 : 1) : as !== bs ? (as < bs ? -1 : 1) : 0;
        expect(compareStreamIds(`${am}-${as}`, `${bm}-${bs}`)).toBe(exact);
      }),
    );
    expect(nextStreamId('5-18446744073709551615')).toBe('6-0');
    expect(nextStreamId('5-1')).toBe('5-2');
  });

  it('MINID is the oldest pending entry, else just past the last delivered', () => {
    expect(safeMinId({ lastDeliveredId: '0-0', pending: 0, lag: 0, oldestPendingId: null })).toBeNull();
    expect(safeMinId({ lastDeliveredId: '10-3', pending: 0, lag: 0, oldestPendingId: null })).toBe('10-4');
    expect(safeMinId({ lastDeliveredId: '10-3', pending: 2, lag: 0, oldestPendingId: '7-0' })).toBe('7-0');
  });
});
