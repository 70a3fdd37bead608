import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  decodeJobData,
  encodeJobData,
  encodeJobDataJson,
  encodeJobMessage,
  JOB_DATA_VERSION,
  type JobSource,
  parseJobDataJson,
} from '../src/job.js';

describe('job payload codec', () => {
  it('round-trips what the persister encodes through JSON (as BullMQ stores it)', () => {
    const envelope = Buffer.from([1, 2, 3, 250]);
    const plain = encodeJobMessage({ id: 'a', envelope }, 0);
    const request = encodeJobMessage({ id: 'b', envelope, traceparent: 'tp', replyTo: 'gw-1|c' }, 3);
    expect(plain).toEqual({ id: 'a', e: envelope.toString('base64'), n: 0 });
    expect(request).toEqual({ id: 'b', e: envelope.toString('base64'), n: 3, t: 'tp', r: 'gw-1|c' });
    const data = JSON.parse(JSON.stringify(encodeJobData([plain, request])));
    expect(data.v).toBe(JOB_DATA_VERSION);
    expect(decodeJobData(data)).toEqual([plain, request]);
  });

  it('refuses payloads of another shape or version and drops entries without id or envelope', () => {
    for (const bad of [null, 'x', 1, {}, { v: 2, messages: [] }, { v: 1, messages: 'x' }])
      expect(decodeJobData(bad)).toBeNull();
    const ok = { id: 'a', e: 'AQ==', n: 0 };
    expect(decodeJobData({ v: 1, messages: [ok, null, { id: 1, e: 'x' }, { id: 'b' }] })).toEqual([ok]);
  });
});

describe('job payload JSON without JSON.stringify / JSON.parse', () => {
  // Any text, lone surrogates, quotes, backslashes and control characters included.
  const anyText = (minLength = 0) => fc.string({ unit: 'binary', minLength, maxLength: 40 });
  const sourceArb: fc.Arbitrary<JobSource> = fc.record(
    {
      id: anyText(1),
      envelope: fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
      traceparent: fc.option(anyText(), { nil: undefined }),
      replyTo: fc.option(anyText(), { nil: undefined }),
    },
    { requiredKeys: ['id', 'envelope'] },
  );
  const batchArb = fc.array(fc.tuple(sourceArb, fc.nat({ max: 1_000_000 })), { maxLength: 8 });

  it('writes exactly the bytes of JSON.stringify, and reads them back as JSON.parse does', () => {
    fc.assert(
      fc.property(batchArb, (batch) => {
        const data = encodeJobData(batch.map(([s, n]) => encodeJobMessage(s, n)));
        const text = JSON.stringify(data);
        // Whatever the sizes (the cut for small messages off): the same bytes.
        expect(encodeJobDataJson(data, 0)?.equals(Buffer.from(text))).toBe(true);
        expect(parseJobDataJson(text)).toStrictEqual(JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });

  it('the scan reads what the persister writes (no JSON.parse), and leaves every other text to JSON.parse', () => {
    const envelope = Buffer.alloc(9000, 7);
    const data = encodeJobData([
      encodeJobMessage({ id: 'a', envelope }, 0),
      encodeJobMessage({ id: 'é', envelope, traceparent: 'tp', replyTo: 'gw|1' }, 12),
    ]);
    const text = JSON.stringify(data);
    const parse = vi.spyOn(JSON, 'parse');
    try {
      expect(parseJobDataJson(text)).toStrictEqual(data);
      expect(parse).not.toHaveBeenCalled();
      const others = [
        '{"v":2,"messages":[]}',
        '{"v":1,"messages":[{"id":"a\\"b","e":"AQ==","n":0}]}',
        '{"v":1,"messages":[{"id":"a","e":"AQ==","n":0,"x":1}]}',
        '{"v":1,"messages":[{"id":"a","e":"AQ==","n":01}]}',
        '{"v":1,"messages":[{"id":"a","e":"AQ==","n":-1}]}',
        '{"v":1,"messages":[{"id":"a","e":"AQ==","n":0}] }',
        '{"v":1,"messages":[{"id":"a","e":"AQ==","n":0},]}',
      ];
      for (const t of others.slice(0, 2).concat(others.slice(4, 6)))
        expect(parseJobDataJson(t)).toStrictEqual(JSON.parse(t));
      for (const t of [others[2]!]) expect(parseJobDataJson(t)).toStrictEqual(JSON.parse(t));
      for (const t of [others[3]!, others[6]!, '{"v":1,"messages":[{"id":"\u0001","e":"","n":0}]}'])
        expect(() => parseJobDataJson(t)).toThrow(SyntaxError);
    } finally {
      parse.mockRestore();
    }
  });

  it('leaves objects it did not make to JSON.stringify (undefined), and messages it did not make inside one', () => {
    expect(encodeJobDataJson({ v: 1, messages: [] })).toBeUndefined();
    const made = encodeJobMessage({ id: 'a', envelope: Buffer.from('x') }, 0);
    const data = encodeJobData([made, { id: 'b"', e: 'not "base64"', n: 1 }]);
    expect(encodeJobDataJson(data, 0)?.toString()).toBe(JSON.stringify(data));
  });

  it('leaves jobs of small messages to JSON.stringify (faster below ~400 B envelopes), not large ones', () => {
    const job = (bytes: number) =>
      encodeJobData([encodeJobMessage({ id: 'a', envelope: Buffer.alloc(bytes, 1) }, 0)]);
    expect(encodeJobDataJson(job(150))).toBeUndefined();
    expect(encodeJobDataJson(job(8192))?.toString()).toBe(JSON.stringify(job(8192)));
  });
});
