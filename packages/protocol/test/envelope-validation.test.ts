import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeEnvelope,
  type Envelope,
  encodeEnvelope,
  MAX_PARTITION_KEY_LENGTH,
  MAX_TIMESTAMP_MS,
  validateEnvelope,
  validatePartitionKey,
} from '../src/envelope.js';
import { ErrorCode, ProtocolError } from '../src/errors.js';
import { encodeRawEnvelope, envelopeArb, rawEnvelopeArb, rawEnvelopeProblem } from './arbitraries.js';

// The envelope rules every hop shares (docs/protocol.md section 5): what decodeEnvelope accepts is what the
// persister can store (PostgreSQL timestamptz, text and jsonb), and validateEnvelope says the same before a
// client sends. Mutations tried, each failing this file: dropping the NUL check in readStr, the duplicate
// header key check, the timestamp bound in decodeEnvelope, or the length check in validatePartitionKey.

function failure(fn: () => unknown): { code: number; message: string } | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (e instanceof ProtocolError) return { code: e.code, message: e.message };
    throw e;
  }
}

const base: Envelope = {
  id: 'm-1',
  topic: 'orders.created',
  type: 'event',
  priority: 2,
  timestamp: 1_764_201_600_000,
  headers: {},
  payload: Buffer.from('{}'),
};

describe('envelope validation', () => {
  it('decodeEnvelope refuses exactly what the documented rules refuse, with INVALID_ENVELOPE or INVALID_TOPIC', () => {
    fc.assert(
      fc.property(rawEnvelopeArb, (raw) => {
        const problem = rawEnvelopeProblem({ ...raw, partitionKey: '' });
        const f = failure(() => decodeEnvelope(encodeRawEnvelope(raw), { allowEmptyId: true }));
        if (problem === null) expect(f).toBeNull();
        else {
          expect(f, `expected a refusal (${problem})`).not.toBeNull();
          expect([ErrorCode.INVALID_ENVELOPE, ErrorCode.INVALID_TOPIC]).toContain(f!.code);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('timestamps: 0 to 9999-12-31T23:59:59.999Z decode; anything above is refused and named exactly', () => {
    const at = (ts: bigint) => {
      const raw = encodeEnvelope(base);
      raw.writeBigUInt64BE(ts, 4);
      return failure(() => decodeEnvelope(raw));
    };
    expect(new Date(MAX_TIMESTAMP_MS).toISOString()).toBe('9999-12-31T23:59:59.999Z');
    expect(at(0n)).toBeNull();
    expect(at(BigInt(MAX_TIMESTAMP_MS))).toBeNull();
    for (const ts of [BigInt(MAX_TIMESTAMP_MS) + 1n, 2n ** 53n, 2n ** 54n, 2n ** 64n - 1n]) {
      const f = at(ts);
      expect(f?.code).toBe(ErrorCode.INVALID_ENVELOPE);
      expect(f?.message).toContain(`timestamp ${ts} out of range`);
    }
  });

  it('a NUL in any string field is refused, naming the field', () => {
    const fields = ['id', 'source', 'target', 'correlationId', 'header key', 'header value'] as const;
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.string({ maxLength: 200 }), fc.nat(), (field, s, at) => {
        const i = at % (s.length + 1);
        const withNul = `${s.slice(0, i)}\0${s.slice(i)}`;
        const env: Envelope = { ...base, headers: {} };
        if (field === 'header key') env.headers = { [withNul]: 'v' };
        else if (field === 'header value') env.headers = { k: withNul };
        else env[field] = withNul.slice(0, field === 'id' ? 100 : 1000);
        const f = failure(() => decodeEnvelope(encodeEnvelope(env)));
        expect(f?.code).toBe(ErrorCode.INVALID_ENVELOPE);
        expect(f?.message).toContain('NUL');
        expect(failure(() => validateEnvelope(env))?.message).toContain('NUL');
      }),
    );
  });

  it('a NUL in the topic is a topic error (it breaks the topic rules), on both sides', () => {
    const env = { ...base, topic: 'orders\0created' };
    expect(failure(() => decodeEnvelope(encodeEnvelope(env)))?.code).toBe(ErrorCode.INVALID_TOPIC);
    expect(failure(() => validateEnvelope(env))?.code).toBe(ErrorCode.INVALID_TOPIC);
  });

  it('a repeated header key is refused; __proto__ and other prototype names are ordinary keys', () => {
    const raw = fc.sample(rawEnvelopeArb, { numRuns: 1, seed: 1 })[0]!;
    const ok = { ...raw, id: 'm-1', topic: 'a.b', priority: 1, timestamp: 1n, traceparent: '' };
    const clean = { ...ok, source: '', target: '', correlationId: '', partitionKey: '' };
    const dup = encodeRawEnvelope({
      ...clean,
      headers: [
        ['k', '1'],
        ['x', '2'],
        ['k', '3'],
      ],
    });
    const f = failure(() => decodeEnvelope(dup));
    expect(f).toEqual({ code: ErrorCode.INVALID_ENVELOPE, message: 'duplicate header key "k"' });
    const protoKeys = encodeRawEnvelope({
      ...clean,
      headers: [
        ['__proto__', 'p'],
        ['constructor', 'c'],
      ],
    });
    const env = decodeEnvelope(protoKeys);
    expect(Object.keys(env.headers)).toEqual(['__proto__', 'constructor']);
    expect(JSON.parse(JSON.stringify(env.headers))).toEqual(
      JSON.parse('{"__proto__":"p","constructor":"c"}'),
    );
  });

  it('validateEnvelope (client side) agrees with decodeEnvelope (gateway side) on every envelope', () => {
    fc.assert(
      fc.property(rawEnvelopeArb, (generated) => {
        // Code-built envelopes hold a number timestamp (exact up to 2^53 - 1) and unique header keys.
        const headers = Object.fromEntries(generated.headers);
        const maxExact = BigInt(Number.MAX_SAFE_INTEGER);
        const timestamp = generated.timestamp > maxExact ? maxExact : generated.timestamp;
        const raw = { ...generated, timestamp, headers: Object.entries(headers) };
        const env: Envelope = {
          id: raw.id,
          topic: raw.topic,
          type: raw.type,
          priority: raw.priority,
          timestamp: Number(raw.timestamp),
          headers,
          payload: raw.payload,
        };
        if (raw.ttl !== undefined) env.ttl = raw.ttl;
        if (raw.source) env.source = raw.source;
        if (raw.target) env.target = raw.target;
        if (raw.correlationId) env.correlationId = raw.correlationId;
        if (raw.traceparent) env.traceparent = raw.traceparent;
        const client = failure(() => validateEnvelope(env, { allowEmptyId: true }));
        const gateway = failure(() => decodeEnvelope(encodeRawEnvelope(raw), { allowEmptyId: true }));
        // Both accept or both refuse (with several broken rules, each may name a different one first).
        expect(client === null, `client: ${client?.message}, gateway: ${gateway?.message}`).toBe(
          gateway === null,
        );
      }),
      { numRuns: 2000 },
    );
  });

  it('round trips still hold for every valid envelope', () => {
    fc.assert(
      fc.property(envelopeArb, (env) => {
        expect(failure(() => validateEnvelope(env))).toBeNull();
      }),
    );
  });

  it('partition keys: at most MAX_PARTITION_KEY_LENGTH UTF-8 bytes, no NUL', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 1200 }), (key) => {
        const expected = key.includes('\0') || Buffer.byteLength(key) > MAX_PARTITION_KEY_LENGTH;
        expect(failure(() => validatePartitionKey(key))?.code).toBe(
          expected ? ErrorCode.INVALID_ENVELOPE : undefined,
        );
      }),
    );
    expect(failure(() => validatePartitionKey('é'.repeat(MAX_PARTITION_KEY_LENGTH / 2)))).toBeNull();
    expect(failure(() => validatePartitionKey(`${'é'.repeat(MAX_PARTITION_KEY_LENGTH / 2)}a`))?.message).toBe(
      `partition_key longer than ${MAX_PARTITION_KEY_LENGTH} bytes`,
    );
  });
});
