import fc from 'fast-check';
import { type Envelope, encodeEnvelope, MESSAGE_TYPES } from '../src/envelope.js';
import { type Frame, FrameType } from '../src/frames.js';

/** Shared fast-check generators for the codec tests. */
export const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
/** Any Unicode text (multi-byte UTF-8 included), short enough for a str16. */
export const text = (maxLength = 40) => fc.string({ unit: 'binary', maxLength });
export const nonEmptyText = (maxLength = 40) => fc.string({ unit: 'binary', minLength: 1, maxLength });

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

const optText = fc.option(nonEmptyText(30), { nil: undefined });

export const envelopeArb: fc.Arbitrary<Envelope> = fc
  .record({
    id: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 64 }),
    topic: topicArb,
    type: fc.constantFrom(...MESSAGE_TYPES),
    priority: fc.integer({ min: 0, max: 5 }),
    timestamp: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    ttl: fc.option(u32, { nil: undefined }),
    source: optText,
    target: optText,
    correlationId: optText,
    traceparent: fc.option(traceparentArb, { nil: undefined }),
    // Keys avoid Object.prototype names: the codec builds headers with a plain object.
    headers: fc.dictionary(
      text(20).filter((k) => !(k in {})),
      text(40),
      { maxKeys: 5 },
    ),
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
