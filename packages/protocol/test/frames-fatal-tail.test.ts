import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../src/errors.js';
import { encodeFrame, FRAME_HEADER_BYTES, FrameDecoder, FrameType } from '../src/frames.js';
import { frameArb, splitAt } from './arbitraries.js';

// decode() keeps every complete frame that precedes a framing error (a server answers them before it
// closes), then reports the error as the last item; firstFrameMaxBytes bounds only the first frame.

const MAX = 1 << 20;

/** A frame header whose framing is fatal: a huge length, a length below 8, or an unknown version. */
const fatalHeaders: Array<[string, Buffer, number]> = [
  ['huge length', header(0xffff_fff0, 1, FrameType.PING), ErrorCode.FRAME_TOO_LARGE],
  ['length < 8', header(3, 1, FrameType.PING), ErrorCode.MALFORMED_FRAME],
  ['bad version', header(8, 9, FrameType.PING), ErrorCode.UNSUPPORTED_VERSION],
];

function header(length: number, version: number, type: number): Buffer {
  const b = Buffer.alloc(FRAME_HEADER_BYTES);
  b.writeUInt32BE(length, 0);
  b[4] = version;
  b[5] = type;
  return b;
}

describe('frame decoder: frames before a framing error', () => {
  // Mutation tried: decode() returned only the error item (dropping the frames before it): fails.
  it.each(fatalHeaders)('returns the frames before a %s, then the error', (_name, bad, code) => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        (frames, cuts) => {
          const stream = Buffer.concat([...frames.map(encodeFrame), bad, Buffer.from('trailing junk')]);
          const dec = new FrameDecoder({ maxFrameBytes: MAX });
          const got = splitAt(stream, cuts).flatMap((c) => dec.decode(c));
          expect(got).toHaveLength(frames.length + 1);
          expect(got.slice(0, -1).map((f) => [f.type, f.corr])).toEqual(frames.map((f) => [f.type, f.corr]));
          expect(got.at(-1)).toMatchObject({ type: 0, corr: 0, code });
          expect(dec.pending).toBe(0);
          expect(dec.decode(encodeFrame({ type: FrameType.PING, corr: 1 }))).toEqual([]);
        },
      ),
      { numRuns: 200 },
    );
  });

  // Mutation tried: refusing the non-zero flags before the unknown-type check (the old order): fails.
  it('an unknown type is UNKNOWN_FRAME_TYPE whatever its flags', () => {
    const f = header(8, 1, 42);
    f.writeUInt16BE(0xbeef, 6);
    f.writeUInt32BE(77, 8);
    expect(new FrameDecoder({ maxFrameBytes: MAX }).decode(f)).toEqual([
      { type: 0, corr: 77, code: ErrorCode.UNKNOWN_FRAME_TYPE, message: 'unknown frame type 42' },
    ]);
  });
});

describe('frame decoder: first-frame limit', () => {
  const hello = encodeFrame({ type: FrameType.HELLO, corr: 1, clientName: 'c', token: 't' });
  const big = encodeFrame({ type: FrameType.RESPONSE, corr: 2, status: 0, payload: Buffer.alloc(4096) });

  it('refuses a first frame over it, from its header alone', () => {
    const dec = new FrameDecoder({ maxFrameBytes: MAX, firstFrameMaxBytes: 256 });
    expect(dec.decode(big.subarray(0, 4))).toMatchObject([{ type: 0, code: ErrorCode.FRAME_TOO_LARGE }]);
  });

  // Mutation tried: the limit stayed firstFrameMaxBytes after the first frame: fails.
  it('applies maxFrameBytes from the second frame on, also in the same chunk', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 4 }), (cuts) => {
        const dec = new FrameDecoder({ maxFrameBytes: MAX, firstFrameMaxBytes: 256 });
        const got = splitAt(Buffer.concat([hello, big]), cuts).flatMap((c) => dec.decode(c));
        expect(got.map((f) => f.type)).toEqual([FrameType.HELLO, FrameType.RESPONSE]);
      }),
    );
  });
});
