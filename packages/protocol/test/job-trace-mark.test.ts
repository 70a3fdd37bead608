import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeJobData,
  encodeJobData,
  encodeJobDataJson,
  encodeJobMessage,
  type JobSource,
  parseJobDataJson,
  sharedTraceMark,
} from '../src/job.js';

// A job whose messages all carry the same derived mark carries it once (JobData.t); the worker reads it
// as each message's own. Seeds print on failure: replay with fc.assert(..., { seed, path }).
describe('job-level trace mark', () => {
  const hex2 = fc.stringMatching(/^[0-9a-f]{2}$/);
  const source = (traceparent?: string): JobSource => ({
    id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
    envelope: Buffer.from('env'),
    ...(traceparent === undefined ? {} : { traceparent }),
  });

  it('is the mark only when every message has that same derived mark', () => {
    expect(sharedTraceMark([source('01'), source('01')])).toBe('01');
    expect(sharedTraceMark([source('01'), source('00')])).toBeUndefined();
    expect(sharedTraceMark([source('01'), source()])).toBeUndefined();
    expect(sharedTraceMark([source(), source('01')])).toBeUndefined();
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    expect(sharedTraceMark([source(tp), source(tp)])).toBeUndefined();
    expect(sharedTraceMark([source('0A')])).toBeUndefined();
    expect(sharedTraceMark([])).toBeUndefined();
  });

  it('round-trips: written once, read back as every message`s own, as JSON.stringify / JSON.parse would', () => {
    fc.assert(
      fc.property(
        hex2,
        fc.array(fc.tuple(fc.uint8Array({ maxLength: 300 }), fc.nat({ max: 1000 })), {
          minLength: 1,
          maxLength: 6,
        }),
        (mark, msgs) => {
          const sources = msgs.map(([bytes]) => ({ ...source(mark), envelope: Buffer.from(bytes) }));
          expect(sharedTraceMark(sources)).toBe(mark);
          const data = encodeJobData(
            sources.map((s, i) => encodeJobMessage(s, msgs[i]![1], mark)),
            mark,
          );
          const text = JSON.stringify(data);
          expect(text.startsWith(`{"v":1,"t":"${mark}","messages":[`)).toBe(true);
          expect(text.indexOf('"t":"', 10)).toBe(-1); // no message carries its own
          expect(encodeJobDataJson(data, 0)?.equals(Buffer.from(text))).toBe(true);
          const parsed = parseJobDataJson(text);
          expect(parsed).toStrictEqual(JSON.parse(text));
          const decoded = decodeJobData(parsed)!;
          expect(decoded.map((m) => m.t)).toEqual(sources.map(() => mark));
          expect(decoded.map((m) => m.n)).toEqual(msgs.map(([, n]) => n));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('any job mark string is written as JSON.stringify writes it and read back as JSON.parse does', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 12 }), (mark) => {
        const data = encodeJobData([encodeJobMessage(source(), 0)], mark);
        const text = JSON.stringify(data);
        expect(encodeJobDataJson(data, 0)?.equals(Buffer.from(text))).toBe(true);
        expect(parseJobDataJson(text)).toStrictEqual(JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });

  it("a message's own reference wins; a job `t` that is not a derived mark is not read", () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const own = {
      v: 1,
      t: '01',
      messages: [
        { id: 'a', e: '', n: 0, t: tp },
        { id: 'b', e: '', n: 0 },
      ],
    };
    expect(decodeJobData(own)!.map((m) => m.t)).toEqual([tp, '01']);
    for (const t of [tp, '1', 'zz', 1, null]) {
      const other = decodeJobData({ v: 1, t, messages: [{ id: 'a', e: '', n: 0 }] })!;
      expect(other[0]!.t).toBeUndefined();
    }
  });

  it('the scan refuses a malformed job mark head (JSON.parse decides)', () => {
    for (const text of ['{"v":1,"t":"01""messages":[]}', '{"v":1,"t":"01,"messages":[]}'])
      expect(() => parseJobDataJson(text)).toThrow(SyntaxError);
    const ok = '{"v":1,"t":"01","messages":[]}';
    expect(parseJobDataJson(ok)).toStrictEqual(JSON.parse(ok));
  });
});
