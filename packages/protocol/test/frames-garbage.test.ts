import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, ProtocolError } from '../src/errors.js';
import { encodeFrame, FrameDecoder, FrameType, type InvalidFrame } from '../src/frames.js';
import { frameArb, splitAt } from './arbitraries.js';

const FRAMING_CODES = [ErrorCode.MALFORMED_FRAME, ErrorCode.FRAME_TOO_LARGE, ErrorCode.UNSUPPORTED_VERSION];
const ITEM_CODES = [ErrorCode.MALFORMED_FRAME, ErrorCode.UNKNOWN_FRAME_TYPE, ErrorCode.INVALID_ENVELOPE];

/** Feeds chunks; returns the framing error thrown (if any). Anything but a ProtocolError fails the test. */
function feed(dec: FrameDecoder, chunks: Buffer[]): ProtocolError | null {
  for (const c of chunks) {
    try {
      for (const f of dec.push(c)) {
        if (f.type === 0) expect(ITEM_CODES).toContain(f.code);
      }
    } catch (e) {
      expect(e).toBeInstanceOf(ProtocolError);
      expect(FRAMING_CODES).toContain((e as ProtocolError).code);
      return e as ProtocolError;
    }
  }
  return null;
}

function header(length: number, version: number, type: number, flags = 0, corr = 0): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32BE(length, 0);
  b[4] = version;
  b[5] = type;
  b.writeUInt16BE(flags, 6);
  b.writeUInt32BE(corr, 8);
  return b;
}

describe('frame decoder on bad input', () => {
  it('random garbage only ever yields ProtocolError framing codes or invalid-frame items', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
        const dec = new FrameDecoder({ maxFrameBytes: 4096 });
        feed(dec, splitAt(Buffer.from(bytes), cuts));
        expect(dec.pending).toBeLessThan(4096);
      }),
      { numRuns: 1000 },
    );
  });

  it('mutated valid frames never throw anything but ProtocolError', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { minLength: 1, maxLength: 5 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        (frames, flips, cuts) => {
          const stream = Buffer.concat(frames.map(encodeFrame));
          for (const [i, v] of flips) stream[i % stream.length] = v;
          feed(new FrameDecoder({ maxFrameBytes: 1 << 20 }), splitAt(stream, cuts));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('truncated frames stay pending, never throw, never emit', () => {
    fc.assert(
      fc.property(frameArb, fc.nat(), (frame, n) => {
        const bytes = encodeFrame(frame);
        const cut = n % bytes.length;
        const dec = new FrameDecoder({ maxFrameBytes: 1 << 20 });
        expect(dec.push(bytes.subarray(0, cut))).toEqual([]);
        expect(dec.pending).toBe(cut);
      }),
    );
  });

  it('a huge length prefix is rejected from the header alone (4 bytes), before any body arrives', () => {
    const dec = new FrameDecoder({ maxFrameBytes: 1 << 20 });
    expect(() => dec.push(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toThrow(
      expect.objectContaining({ code: ErrorCode.FRAME_TOO_LARGE }),
    );
    const dec2 = new FrameDecoder({ maxFrameBytes: 1 << 20 });
    expect(dec2.push(Buffer.from([0x00, 0x10]))).toEqual([]);
    expect(() => dec2.push(Buffer.from([0x00, 0x01]))).toThrow(
      expect.objectContaining({ code: ErrorCode.FRAME_TOO_LARGE }),
    );
  });

  it('oversized by one byte -> FRAME_TOO_LARGE; at the limit -> accepted', () => {
    const ok = encodeFrame({ type: FrameType.ERROR, corr: 1, code: 1, message: 'x'.repeat(100) });
    expect(new FrameDecoder({ maxFrameBytes: ok.length }).push(ok)).toHaveLength(1);
    expect(() => new FrameDecoder({ maxFrameBytes: ok.length - 1 }).push(ok)).toThrow(
      expect.objectContaining({ code: ErrorCode.FRAME_TOO_LARGE }),
    );
  });

  it('length below 8 -> MALFORMED_FRAME', () => {
    for (const len of [0, 1, 7]) {
      expect(() => new FrameDecoder({ maxFrameBytes: 1024 }).push(header(len, 1, 8))).toThrow(
        expect.objectContaining({ code: ErrorCode.MALFORMED_FRAME }),
      );
    }
  });

  it('wrong version -> UNSUPPORTED_VERSION as soon as byte 4 arrives', () => {
    const dec = new FrameDecoder({ maxFrameBytes: 1024 });
    const h = header(8, 2, 8);
    expect(dec.push(h.subarray(0, 4))).toEqual([]);
    expect(() => dec.push(h.subarray(4, 5))).toThrow(
      expect.objectContaining({ code: ErrorCode.UNSUPPORTED_VERSION }),
    );
  });

  it('unknown type is skipped as an invalid item and the next frame still decodes', () => {
    const dec = new FrameDecoder({ maxFrameBytes: 1024 });
    const unknown = Buffer.concat([header(11, 1, 42, 0, 77), Buffer.from('abc')]);
    const out = dec.push(Buffer.concat([unknown, encodeFrame({ type: FrameType.PING, corr: 5 })]));
    expect(out[0]).toEqual<InvalidFrame>({
      type: 0,
      corr: 77,
      code: ErrorCode.UNKNOWN_FRAME_TYPE,
      message: 'unknown frame type 42',
    });
    expect(out[1]).toEqual({ type: FrameType.PING, corr: 5 });
  });

  it('bad bodies: PUBLISH -> INVALID_ENVELOPE (connection stays), others -> MALFORMED_FRAME', () => {
    const dec = new FrameDecoder({ maxFrameBytes: 1024 });
    // PUBLISH whose partition_key length runs past the end.
    const pub = Buffer.concat([header(10, 1, FrameType.PUBLISH, 0, 9), Buffer.from([0x00, 0x05])]);
    // PING with a body.
    const ping = Buffer.concat([header(9, 1, FrameType.PING, 0, 10), Buffer.from([1])]);
    // ACK with level 7.
    const ack = Buffer.concat([header(13, 1, FrameType.ACK, 0, 11), Buffer.from([7, 0, 0, 0, 0])]);
    // HELLO with unknown flags.
    const hello = Buffer.concat([header(12, 1, FrameType.HELLO, 0x8000, 12), Buffer.from([0, 0, 0, 0])]);
    // HELLO with invalid UTF-8 in client_name.
    const utf = Buffer.concat([header(13, 1, FrameType.HELLO, 0, 13), Buffer.from([0, 1, 0xff, 0, 0])]);
    const out = dec.push(Buffer.concat([pub, ping, ack, hello, utf])) as InvalidFrame[];
    expect(out.map((f) => [f.type, f.corr, f.code])).toEqual([
      [0, 9, ErrorCode.INVALID_ENVELOPE],
      [0, 10, ErrorCode.MALFORMED_FRAME],
      [0, 11, ErrorCode.MALFORMED_FRAME],
      [0, 12, ErrorCode.MALFORMED_FRAME],
      [0, 13, ErrorCode.MALFORMED_FRAME],
    ]);
  });

  it('encodeFrame rejects values that do not fit their fields', () => {
    expect(() => encodeFrame({ type: FrameType.PING, corr: -1 })).toThrow(ProtocolError);
    expect(() => encodeFrame({ type: FrameType.ERROR, corr: 1, code: 70000, message: '' })).toThrow(
      ProtocolError,
    );
    expect(() => encodeFrame({ type: FrameType.HELLO, corr: 1, clientName: 'x'.repeat(70000) })).toThrow(
      ProtocolError,
    );
  });
});
