import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, type Envelope, encodeEnvelope, isExpired, MAX_HEADERS } from '../src/envelope.js';
import { ErrorCode, ProtocolError } from '../src/errors.js';
import { envelopeArb, norm } from './arbitraries.js';

const base: Envelope = {
  id: 'm-1',
  topic: 'orders.created',
  type: 'event',
  priority: 2,
  timestamp: 1_764_201_600_000,
  headers: {},
  payload: Buffer.from('{}'),
};

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProtocolError) return e.code;
    throw e;
  }
  return undefined;
}

describe('envelope codec', () => {
  it('round trips random envelopes', () => {
    fc.assert(
      fc.property(envelopeArb, (env) => {
        expect(norm(decodeEnvelope(encodeEnvelope(env)))).toEqual(norm(env));
      }),
      { numRuns: 500 },
    );
  });

  it('isExpired: only with a ttl, and only once timestamp + ttl has passed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 41 }),
        fc.option(fc.integer({ min: 0, max: 0xffff_ffff }), { nil: undefined }),
        fc.integer({ min: -1e6, max: 1e6 }),
        (timestamp, ttl, offset) => {
          const now = timestamp + (ttl ?? 0) + offset;
          expect(isExpired({ timestamp, ttl }, now)).toBe(ttl !== undefined && offset > 0);
        },
      ),
    );
  });

  it('a leading U+FEFF in a text field is kept, not stripped as a byte-order mark', () => {
    // Mutation checked: with the decoder's ignoreBOM removed, this fails ("\uFEFFsrc" comes back "src").
    const env: Envelope = { ...base, source: '\uFEFFsrc', headers: { '\uFEFFk': '\uFEFFv' } };
    const out = decodeEnvelope(encodeEnvelope(env));
    expect(out.source).toBe('\uFEFFsrc');
    expect(out.headers).toEqual({ '\uFEFFk': '\uFEFFv' });
  });

  it('payload is a view into the input', () => {
    const bytes = encodeEnvelope(base);
    const env = decodeEnvelope(bytes);
    expect(env.payload.buffer).toBe(bytes.buffer);
  });

  it('random bytes and truncations only ever throw ProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const code = codeOf(() => decodeEnvelope(bytes));
        if (code !== undefined)
          expect([
            ErrorCode.INVALID_ENVELOPE,
            ErrorCode.INVALID_TOPIC,
            ErrorCode.UNSUPPORTED_VERSION,
          ]).toContain(code);
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(envelopeArb, fc.nat(), (env, n) => {
        const bytes = encodeEnvelope(env);
        expect(codeOf(() => decodeEnvelope(bytes.subarray(0, n % bytes.length)))).toBe(
          ErrorCode.INVALID_ENVELOPE,
        );
      }),
    );
  });

  it('bad fields -> INVALID_ENVELOPE', () => {
    const bad = (e: Partial<Envelope>) => codeOf(() => decodeEnvelope(encodeEnvelope({ ...base, ...e })));
    expect(bad({ id: '' })).toBe(ErrorCode.INVALID_ENVELOPE);
    expect(bad({ id: 'x'.repeat(129) })).toBe(ErrorCode.INVALID_ENVELOPE);
    expect(bad({ priority: 6 })).toBe(ErrorCode.INVALID_ENVELOPE);
    expect(bad({ traceparent: 'nope' })).toBe(ErrorCode.INVALID_ENVELOPE);
    const many = Object.fromEntries(Array.from({ length: MAX_HEADERS + 1 }, (_, i) => [`h${i}`, 'v']));
    expect(bad({ headers: many })).toBe(ErrorCode.INVALID_ENVELOPE);
    const trailing = Buffer.concat([encodeEnvelope(base), Buffer.from([0])]);
    expect(codeOf(() => decodeEnvelope(trailing))).toBe(ErrorCode.INVALID_ENVELOPE);
    const badType = encodeEnvelope(base);
    badType[1] = 9;
    expect(codeOf(() => decodeEnvelope(badType))).toBe(ErrorCode.INVALID_ENVELOPE);
    const badFlags = encodeEnvelope(base);
    badFlags[3] = 2;
    expect(codeOf(() => decodeEnvelope(badFlags))).toBe(ErrorCode.INVALID_ENVELOPE);
    const badVersion = encodeEnvelope(base);
    badVersion[0] = 2;
    expect(codeOf(() => decodeEnvelope(badVersion))).toBe(ErrorCode.UNSUPPORTED_VERSION);
  });

  it('empty id is allowed only with allowEmptyId (the gateway assigns one)', () => {
    const bytes = encodeEnvelope({ ...base, id: '' });
    expect(codeOf(() => decodeEnvelope(bytes))).toBe(ErrorCode.INVALID_ENVELOPE);
    expect(decodeEnvelope(bytes, { allowEmptyId: true }).id).toBe('');
  });

  it('bad topics -> INVALID_TOPIC', () => {
    for (const topic of ['', 'a..b', 'a.*', 'order.#', 'a b', 'ü', '.a', 'a.']) {
      expect(codeOf(() => decodeEnvelope(encodeEnvelope({ ...base, topic })))).toBe(ErrorCode.INVALID_TOPIC);
    }
    // Over 255 bytes: refused by the envelope's field-length check, with the topic's error code.
    expect(codeOf(() => decodeEnvelope(encodeEnvelope({ ...base, topic: 'x'.repeat(256) })))).toBe(
      ErrorCode.INVALID_TOPIC,
    );
  });
});
