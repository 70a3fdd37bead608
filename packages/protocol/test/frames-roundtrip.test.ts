import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope } from '../src/envelope.js';
import {
  AckLevel,
  encodeAck,
  encodeFrame,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameType,
  PROTOCOL_VERSION,
} from '../src/frames.js';
import { envelopeArb, frameArb, norm } from './arbitraries.js';

const decoder = () => new FrameDecoder({ maxFrameBytes: 1 << 20 });

describe('frame codec round trips', () => {
  it('every frame type decodes to what was encoded', () => {
    fc.assert(
      fc.property(frameArb, (frame) => {
        const bytes = encodeFrame(frame);
        expect(bytes.readUInt32BE(0)).toBe(bytes.length - 4);
        expect(bytes[4]).toBe(PROTOCOL_VERSION);
        expect(bytes[5]).toBe(frame.type);
        const out = decoder().push(bytes);
        expect(out.map(norm)).toEqual([norm(frame)]);
      }),
      { numRuns: 500 },
    );
  });

  it('PUBLISH carries a random envelope intact, as a view into the input', () => {
    fc.assert(
      fc.property(envelopeArb, fc.boolean(), (env, durable) => {
        const bytes = encodeFrame({
          type: FrameType.PUBLISH,
          corr: 7,
          ackLevel: durable ? AckLevel.DURABLE : AckLevel.STREAM,
          envelope: encodeEnvelope(env),
        });
        const [f] = decoder().push(bytes);
        if (f?.type !== FrameType.PUBLISH) throw new Error('expected PUBLISH');
        expect(f.ackLevel).toBe(durable ? 1 : 0);
        expect(f.envelope.buffer).toBe(bytes.buffer); // no copy
        expect(norm(decodeEnvelope(f.envelope))).toEqual(norm(env));
      }),
      { numRuns: 300 },
    );
  });

  it('encodeAck equals encodeFrame of the same ACK', () => {
    fc.assert(
      fc.property(
        fc.nat(),
        fc.constantFrom(0 as const, 1 as const),
        fc.string(),
        fc.string(),
        (corr, l, m, s) => {
          expect(encodeAck(corr, l, m, s)).toEqual(
            encodeFrame({ type: FrameType.ACK, corr, ackLevel: l, messageId: m, streamId: s }),
          );
        },
      ),
    );
  });

  it('PING is a bare 12-byte header', () => {
    expect(encodeFrame({ type: FrameType.PING, corr: 1 }).toString('hex')).toBe('000000080108000000000001');
    expect(FRAME_HEADER_BYTES).toBe(12);
  });
});
