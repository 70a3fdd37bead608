import fc from 'fast-check';
import { type Envelope, encodeEnvelope, MAX_TIMESTAMP_MS, MESSAGE_TYPES } from '../src/envelope.js';
import { type Frame, FrameType } from '../src/frames.js';

/** Shared fast-check generators for the codec tests. */
export const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
/** Any Unicode text (multi-byte UTF-8 included), short enough for a str16. */
export const text = (maxLength = 40) => fc.string({ unit: 'binary', maxLength });
export const nonEmptyText = (maxLength = 40) => fc.string({ unit: 'binary', minLength: 1, maxLength });
/** Text an envelope may carry: any Unicode but NUL (envelope strings refuse U+0000). */
const envText = (maxLength = 40) => text(maxLength).map((s) => s.replaceAll('\0', ''));
const nonEmptyEnvText = (maxLength = 40) => envText(maxLength).filter((s) => s.length > 0);

const segment = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/);
export const topicArb = fc
  .array(segment, { minLength: 1, maxLength: 6 })
  .map((s) => s.join('.'))
  .filter((t) => t.length <= 255);

const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
export const traceparentArb = fc
  .tuple(hex(32), hex(16), hex(2))
  .filter(([t, s]) => !/^0+$/.test(t) && !/^0+$/.test(s))
  .map(([t, s, f]) => `00-${t}-${s}-${f}`);

const optText = fc.option(nonEmptyEnvText(30), { nil: undefined });

export const envelopeArb: fc.Arbitrary<Envelope> = fc
  .record({
    id: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 64 }),
    topic: topicArb,
    type: fc.constantFrom(...MESSAGE_TYPES),
    priority: fc.integer({ min: 0, max: 5 }),
    timestamp: fc.integer({ min: 0, max: MAX_TIMESTAMP_MS }),
    ttl: fc.option(u32, { nil: undefined }),
    source: optText,
    target: optText,
    correlationId: optText,
    traceparent: fc.option(traceparentArb, { nil: undefined }),
    headers: fc.dictionary(envText(20), envText(40), { maxKeys: 5 }),
    payload: fc.uint8Array({ maxLength: 300 }),
  })
  .map((e) => {
    // Optional fields are absent rather than undefined, as decodeEnvelope returns them.
    const env = { ...e } as Record<string, unknown>;
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    return env as unknown as Envelope;
  });

const envelopeBytes = envelopeArb.map((e) => encodeEnvelope(e));
const optKey = fc.option(nonEmptyText(30), { nil: undefined });
const ackLevel = fc.constantFrom(0 as const, 1 as const);

function strip<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/** Every frame type with random fields; optional strings absent (never empty), as the decoder returns them. */
export const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc
    .record({ corr: u32, clientName: text(), token: optKey })
    .map((r) => strip({ type: FrameType.HELLO, ...r })),
  fc
    .record({ corr: u32, gatewayId: text(), maxFrameBytes: u32, maxInFlight: u32, idleTimeoutMs: u32 })
    .map((r) => ({ type: FrameType.WELCOME, ...r })),
  fc
    .record({ corr: u32, ackLevel, partitionKey: optKey, envelope: envelopeBytes })
    .map((r) => strip({ type: FrameType.PUBLISH, ...r })),
  fc
    .record({ corr: u32, ackLevel, messageId: text(), streamId: text() })
    .map((r) => ({ type: FrameType.ACK, ...r })),
  fc.record({ corr: u32, code: u16, message: text(80) }).map((r) => ({ type: FrameType.ERROR, ...r })),
  fc
    .record({ corr: u32, timeoutMs: u32, partitionKey: optKey, envelope: envelopeBytes })
    .map((r) => strip({ type: FrameType.REQUEST, ...r })),
  fc
    .record({
      corr: u32,
      status: u16,
      error: optKey,
      traceparent: fc.option(traceparentArb, { nil: undefined }),
      payload: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
    })
    .map((r) => strip({ type: FrameType.RESPONSE, ...r })),
  fc.record({ corr: u32 }).map((r) => ({ type: FrameType.PING, ...r })),
  fc.record({ corr: u32 }).map((r) => ({ type: FrameType.PONG, ...r })),
) as fc.Arbitrary<Frame>;

/** Cuts `buf` at the given sorted cut points (values modulo length). */
export function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => (buf.length ? c % (buf.length + 1) : 0)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    parts.push(buf.subarray(prev, p));
    prev = p;
  }
  parts.push(buf.subarray(prev));
  return parts;
}

/** Buffers compare by content in toEqual; normalise to plain objects with Buffer fields. */
export function norm(f: unknown): unknown {
  if (!f || typeof f !== 'object') return f;
  const o = { ...(f as Record<string, unknown>) };
  for (const k of Object.keys(o))
    if (o[k] instanceof Uint8Array) o[k] = Buffer.from(o[k] as Uint8Array).toString('hex');
  return o;
}

/**
 * An envelope as raw parts, including what the codec must refuse: timestamps up to 2^64-1, NUL in any
 * string, duplicate header keys, over-long fields, invalid topics and traceparents. `encodeRawEnvelope`
 * writes it byte for byte (encodeEnvelope cannot express a u64 timestamp or a repeated header key).
 */
export interface RawEnvelope {
  id: string;
  topic: string;
  type: (typeof MESSAGE_TYPES)[number];
  priority: number;
  timestamp: bigint;
  ttl?: number;
  source: string;
  target: string;
  correlationId: string;
  traceparent: string;
  headers: [string, string][];
  payload: Uint8Array;
  partitionKey: string;
}

const MAX_U64 = 2n ** 64n - 1n;
const MAX_TS = BigInt(MAX_TIMESTAMP_MS);
/** Edges of the documented range, 2^53 (the largest exact JS integer + 1), and micro/nanosecond clocks. */
export const edgeTimestampArb = fc.oneof(
  fc.constantFrom(0n, 1n, MAX_TS - 1n, MAX_TS, MAX_TS + 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n),
  fc.constantFrom(2n ** 54n, MAX_U64, 1_764_201_600_000n, 1_764_201_600_000_000n, 1_764_201_600_000_000_000n),
  fc.bigInt({ min: 0n, max: MAX_TS }),
  fc.bigInt({ min: MAX_TS + 1n, max: MAX_U64 }),
);

/** Strings a hostile or careless client sends: NULs, any Unicode, and lengths around each field's limit. */
const rawText = (limitBytes: number) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) }, // NUL among any code point
    { weight: 1, arbitrary: fc.constantFrom('\0', 'a\0', '\0b', 'x\0y', '\u{1F600}', 'é') },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom('a', 'é', '\u{1F600}'), fc.integer({ min: -2, max: 2 }))
        .map(([c, d]) => c.repeat(Math.max(0, Math.floor(limitBytes / Buffer.byteLength(c)) + d))),
    },
  );

const rawTopicArb = fc.oneof(
  { weight: 6, arbitrary: topicArb },
  { weight: 1, arbitrary: fc.constantFrom('', 'a\0b', 'orders.*', 'a..b', 'ü', 'x'.repeat(256)) },
);
const rawTraceparentArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant('') },
  { weight: 2, arbitrary: traceparentArb },
  { weight: 1, arbitrary: fc.constantFrom('nope', `00-${'0'.repeat(32)}-${'1'.repeat(16)}-01`) },
);
const rawHeadersArb = fc.oneof(
  fc.array(fc.tuple(rawText(1024), rawText(200)), { maxLength: 4 }),
  // A repeated key, with anything around it.
  fc
    .tuple(rawText(40), fc.array(fc.tuple(rawText(40), rawText(40)), { maxLength: 2 }), text(10), text(10))
    .map(([k, rest, v1, v2]): [string, string][] => [[k, v1], ...rest, [k, v2]]),
);

export const rawEnvelopeArb: fc.Arbitrary<RawEnvelope> = fc.record({
  id: fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 40 }) },
    { weight: 2, arbitrary: rawText(128) },
  ),
  topic: rawTopicArb,
  type: fc.constantFrom(...MESSAGE_TYPES),
  priority: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 5 }) }, fc.constant(6)),
  timestamp: edgeTimestampArb,
  ttl: fc.option(u32, { nil: undefined }),
  source: fc.oneof({ weight: 2, arbitrary: fc.constant('') }, rawText(1024)),
  target: fc.oneof({ weight: 3, arbitrary: fc.constant('') }, rawText(1024)),
  correlationId: fc.oneof({ weight: 3, arbitrary: fc.constant('') }, rawText(1024)),
  traceparent: rawTraceparentArb,
  headers: rawHeadersArb,
  payload: fc.uint8Array({ maxLength: 64 }),
  partitionKey: fc.oneof({ weight: 3, arbitrary: fc.constant('') }, rawText(1024)),
});

/** The envelope bytes of `r`, written field by field as docs/protocol.md section 5 lays them out. */
export function encodeRawEnvelope(r: RawEnvelope): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(r.ttl === undefined ? 12 : 16);
  head[0] = 1;
  head[1] = MESSAGE_TYPES.indexOf(r.type);
  head[2] = r.priority;
  head[3] = r.ttl === undefined ? 0 : 1;
  head.writeBigUInt64BE(r.timestamp, 4);
  if (r.ttl !== undefined) head.writeUInt32BE(r.ttl, 12);
  parts.push(head);
  const str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(b.length);
    parts.push(len, b);
  };
  for (const s of [r.id, r.topic, r.source, r.target, r.correlationId, r.traceparent]) str(s);
  const count = Buffer.alloc(2);
  count.writeUInt16BE(r.headers.length);
  parts.push(count);
  for (const [k, v] of r.headers) {
    str(k);
    str(v);
  }
  const plen = Buffer.alloc(4);
  plen.writeUInt32BE(r.payload.byteLength);
  parts.push(plen, Buffer.from(r.payload));
  return Buffer.concat(parts);
}

/**
 * Test oracle, restating docs/protocol.md (sections 4-5) rule by rule: null when a gateway must accept
 * `r` (an empty id allowed: the gateway assigns one), else the first broken rule's name.
 */
export function rawEnvelopeProblem(r: RawEnvelope): string | null {
  const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
  const strings = [r.id, r.topic, r.source, r.target, r.correlationId, r.traceparent, r.partitionKey];
  for (const [k, v] of r.headers) strings.push(k, v);
  if (strings.some((s) => s.includes('\0'))) return 'nul';
  if (r.timestamp > MAX_TS) return 'timestamp';
  if (bytes(r.id) > 128) return 'id length';
  if (bytes(r.partitionKey) > 1024) return 'partition key length';
  if ([r.source, r.target, r.correlationId].some((s) => bytes(s) > 1024)) return 'short string length';
  if (r.headers.length > 64) return 'header count';
  if (r.headers.some(([k]) => bytes(k) > 1024)) return 'header key length';
  if (new Set(r.headers.map(([k]) => k)).size !== r.headers.length) return 'duplicate header';
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(r.topic) || r.topic.length > 255) return 'topic';
  if (r.priority > 5) return 'priority';
  if (
    r.traceparent !== '' &&
    !/^[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/.test(r.traceparent)
  )
    return 'traceparent';
  return null;
}
