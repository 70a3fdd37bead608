import { describe, expect, it } from 'vitest';
import { batchJobId, buildJobs, chunkJobMessages, retryDelayMs } from '../src/index.js';

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

  it('job ids stay what every persister version makes: sha1 of the ids, each followed by a newline', () => {
    // A mixed-version fleet re-adding the same batch must make the same id (the add is then a no-op).
    expect(batchJobId('i', [{ id: 'x:1' }, { id: 'y' }])).toBe('i-u1c4LB2BYAMTRxoEhvfaoF5H5RA');
  });

  it('a batch whose messages share a derived mark carries it once per job; any other batch per message', () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const src = (id: string, traceparent?: string) => ({
      id,
      streamId: '1-0',
      envelope: Buffer.from(id),
      topic: 't',
      type: 'event',
      priority: 0,
      timestamp: 0,
      headers: {},
      ...(traceparent === undefined ? {} : { traceparent }),
    });
    const build = (ms: ReturnType<typeof src>[]) =>
      buildJobs(
        ms,
        () => 0,
        { batchSize: 2, maxJobBytes: 1e6 },
        (c) => batchJobId('i', c),
      ).map((j) => j.data);
    const marked = build([src('a', '01'), src('b', '01'), src('c', '01')]);
    expect(marked.map((d) => d.t)).toEqual(['01', '01']);
    expect(marked.flatMap((d) => d.messages).every((m) => m.t === undefined)).toBe(true);
    const mixed = build([src('a', '01'), src('b', tp), src('c')]);
    expect(mixed.map((d) => d.t)).toEqual([undefined, undefined]);
    expect(mixed.flatMap((d) => d.messages).map((m) => m.t)).toEqual(['01', tp, undefined]);
  });

  it('retry delay doubles and is capped', () => {
    expect([1, 2, 3, 4, 10].map((n) => retryDelayMs(n, 100, 500))).toEqual([100, 200, 400, 500, 500]);
  });
});
