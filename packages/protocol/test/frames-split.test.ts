import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder } from '../src/frames.js';
import { frameArb, norm, splitAt } from './arbitraries.js';

describe('frame decoder over a split byte stream', () => {
  it('any chunking of a valid stream decodes to the same frames', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (frames, cuts) => {
          const stream = Buffer.concat(frames.map(encodeFrame));
          const dec = new FrameDecoder({ maxFrameBytes: 1 << 20 });
          const out = splitAt(stream, cuts).flatMap((c) => dec.push(c));
          expect(out.map(norm)).toEqual(frames.map(norm));
          expect(dec.pending).toBe(0);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('byte-at-a-time delivery decodes every frame', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 4 }), (frames) => {
        const encoded = frames.map(encodeFrame);
        const stream = Buffer.concat(encoded);
        // Where each frame ends in the stream: after byte i, pending = bytes past the last frame end.
        const ends: number[] = [];
        for (const e of encoded) ends.push((ends.at(-1) ?? 0) + e.length);
        const dec = new FrameDecoder({ maxFrameBytes: 1 << 20 });
        const out = [];
        // Mutation checked: with `pending` made to report one byte less mid-frame, this test fails (it used
        // to compare pending with itself on every byte but the last).
        for (let i = 0; i < stream.length; i++) {
          out.push(...dec.push(stream.subarray(i, i + 1)));
          const consumed = i + 1;
          const lastEnd = ends.filter((e) => e <= consumed).at(-1) ?? 0;
          expect(dec.pending).toBe(consumed - lastEnd);
          expect(out).toHaveLength(ends.filter((e) => e <= consumed).length);
        }
        expect(out.map(norm)).toEqual(frames.map(norm));
      }),
      { numRuns: 100 },
    );
  });

  it('pending counts the bytes of the incomplete frame', () => {
    const bytes = encodeFrame({ type: 5, corr: 3, code: 9, message: 'hello there' });
    const dec = new FrameDecoder({ maxFrameBytes: 1024 });
    expect(dec.push(bytes.subarray(0, 3))).toEqual([]);
    expect(dec.pending).toBe(3);
    expect(dec.push(bytes.subarray(3, 20))).toEqual([]);
    expect(dec.pending).toBe(20);
    expect(dec.push(Buffer.concat([bytes.subarray(20), bytes.subarray(0, 5)]))).toHaveLength(1);
    expect(dec.pending).toBe(5);
  });

  it('frames inside one chunk are views into it; a spanning frame is joined', () => {
    const env = Buffer.from('0101000000000000000000000003616263000000000000000000000000000000', 'hex');
    const a = encodeFrame({ type: 3, corr: 1, ackLevel: 0, envelope: env });
    const chunk = Buffer.concat([a, a]);
    const dec = new FrameDecoder({ maxFrameBytes: 1024 });
    const frames = dec.push(chunk.subarray(0, a.length + 10));
    const first = frames[0] as { envelope: Buffer };
    expect(first.envelope.buffer).toBe(chunk.buffer);
    const [second] = dec.push(chunk.subarray(a.length + 10)) as { envelope: Buffer }[];
    chunk.fill(0);
    expect(first.envelope.every((b) => b === 0)).toBe(true); // a view: sees the overwrite
    expect(second!.envelope).toEqual(env); // joined copy: unaffected
  });
});
