import { describe, expect, it } from 'vitest';
import { batchJobId, chunkJobMessages, retryDelayMs } from '../src/index.js';

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
