import { ErrorCode, ProtocolError } from './errors.js';
import { MAX_TOPIC_LENGTH, topicError } from './topic.js';

/** The message envelope of the architecture brief: one type, one binary codec, used by every hop. */
export const MESSAGE_TYPES = ['command', 'event', 'query', 'reply', 'notification'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

export interface Envelope {
  /** Idempotency key: assigned by the client, or by the gateway. 1-128 bytes of UTF-8. */
  id: string;
  topic: string;
  type: MessageType;
  /** 0 (lowest) - 5 (highest). */
  priority: number;
  /** Milliseconds since the Unix epoch. */
  timestamp: number;
  /** Time to live in milliseconds from `timestamp`; absent = forever. */
  ttl?: number;
  source?: string;
  target?: string;
  correlationId?: string;
  /** W3C traceparent: 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>. */
  traceparent?: string;
  headers: Record<string, string>;
  /** Opaque bytes; the fleet never parses them (handlers may). */
  payload: Uint8Array;
}

export const ENVELOPE_VERSION = 1;
export const MAX_ID_LENGTH = 128;
export const MAX_SHORT_STRING = 1024;
export const MAX_HEADERS = 64;
export const MAX_PRIORITY = 5;
const FLAG_TTL = 1;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function bad(message: string): never {
  throw new ProtocolError(ErrorCode.INVALID_ENVELOPE, message);
}

/** Checks the fields a decoder cannot: topic rules, id, priority, traceparent shape. */
export function validateEnvelope(env: Envelope, opts: DecodeOptions = {}): void {
  if (env.id.length === 0 && !opts.allowEmptyId) bad('id is empty');
  if (Buffer.byteLength(env.id) > MAX_ID_LENGTH) bad(`id longer than ${MAX_ID_LENGTH} bytes`);
  const reason = topicError(env.topic);
  if (reason) throw new ProtocolError(ErrorCode.INVALID_TOPIC, `invalid topic: ${reason}`);
  if (!Number.isInteger(env.priority) || env.priority < 0 || env.priority > MAX_PRIORITY)
    bad(`priority must be an integer 0-${MAX_PRIORITY}`);
  if (!MESSAGE_TYPES.includes(env.type)) bad(`unknown message type ${String(env.type)}`);
  if (env.traceparent !== undefined && !isTraceparent(env.traceparent)) bad('traceparent is not W3C format');
}

const TRACEPARENT_RE = /^[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;
export function isTraceparent(value: string): boolean {
  return TRACEPARENT_RE.test(value);
}

/** Layout (big-endian), documented in docs/protocol.md "Envelope":
 *  u8 version | u8 type | u8 priority | u8 flags | u32 timestamp_hi | u32 timestamp_lo | [u32 ttl if flags&1]
 *  str16 id | str16 topic | str16 source | str16 target | str16 correlation_id | str16 traceparent
 *  u16 header_count { str16 key | str16 value }* | u32 payload_length | payload
 *  str16 = u16 byte length + UTF-8 bytes; an empty string means "absent" for optional fields. */
export function encodeEnvelope(env: Envelope): Buffer {
  const strs = [env.id, env.topic, env.source ?? '', env.target ?? '', env.correlationId ?? '', env.traceparent ?? ''];
  const strBufs = strs.map((s) => encoder.encode(s));
  const headerEntries = Object.entries(env.headers);
  const headerBufs = headerEntries.map(([k, v]) => [encoder.encode(k), encoder.encode(v)] as const);
  const hasTtl = env.ttl !== undefined;
  let size = 12 + (hasTtl ? 4 : 0) + 2 + 4 + env.payload.byteLength;
  for (const b of strBufs) size += 2 + b.byteLength;
  for (const [k, v] of headerBufs) size += 4 + k.byteLength + v.byteLength;
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  out[o++] = ENVELOPE_VERSION;
  out[o++] = MESSAGE_TYPES.indexOf(env.type);
  out[o++] = env.priority;
  out[o++] = hasTtl ? FLAG_TTL : 0;
  out.writeUInt32BE(Math.floor(env.timestamp / 0x1_0000_0000), o);
  out.writeUInt32BE(env.timestamp >>> 0, o + 4);
  o += 8;
  if (hasTtl) {
    out.writeUInt32BE(env.ttl as number, o);
    o += 4;
  }
  const writeStr = (b: Uint8Array) => {
    if (b.byteLength > 0xffff) bad('string field longer than 65535 bytes');
    out.writeUInt16BE(b.byteLength, o);
    out.set(b, o + 2);
    o += 2 + b.byteLength;
  };
  for (const b of strBufs) writeStr(b);
  out.writeUInt16BE(headerBufs.length, o);
  o += 2;
  for (const [k, v] of headerBufs) {
    writeStr(k);
    writeStr(v);
  }
  out.writeUInt32BE(env.payload.byteLength, o);
  out.set(env.payload, o + 4);
  return out;
}

export interface DecodeOptions {
  /** The gateway accepts an empty id from clients and assigns one; every later hop requires it. */
  allowEmptyId?: boolean;
}

/** Decodes and validates an envelope. `payload` is a view into `buf` (no copy). Throws ProtocolError. */
export function decodeEnvelope(buf: Uint8Array, opts: DecodeOptions = {}): Envelope {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let o = 0;
  const need = (n: number) => {
    if (o + n > b.length) bad('envelope truncated');
  };
  need(12);
  const version = b[o++]!;
  if (version !== ENVELOPE_VERSION) throw new ProtocolError(ErrorCode.UNSUPPORTED_VERSION, `envelope version ${version} not supported`);
  const typeIdx = b[o++]!;
  const type = MESSAGE_TYPES[typeIdx];
  if (type === undefined) bad(`unknown message type ${typeIdx}`);
  const priority = b[o++]!;
  const flags = b[o++]!;
  if (flags & ~FLAG_TTL) bad('unknown envelope flags');
  const timestamp = b.readUInt32BE(o) * 0x1_0000_0000 + b.readUInt32BE(o + 4);
  o += 8;
  let ttl: number | undefined;
  if (flags & FLAG_TTL) {
    need(4);
    ttl = b.readUInt32BE(o);
    o += 4;
  }
  const readStr = (max: number, field: string): string => {
    need(2);
    const len = b.readUInt16BE(o);
    o += 2;
    if (len > max) bad(`${field} longer than ${max} bytes`);
    need(len);
    let s: string;
    try {
      s = decoder.decode(b.subarray(o, o + len));
    } catch {
      bad(`${field} is not valid UTF-8`);
    }
    o += len;
    return s;
  };
  const id = readStr(MAX_ID_LENGTH, 'id');
  const topic = readStr(MAX_TOPIC_LENGTH, 'topic');
  const source = readStr(MAX_SHORT_STRING, 'source');
  const target = readStr(MAX_SHORT_STRING, 'target');
  const correlationId = readStr(MAX_SHORT_STRING, 'correlation_id');
  const traceparent = readStr(64, 'traceparent');
  need(2);
  const headerCount = b.readUInt16BE(o);
  o += 2;
  if (headerCount > MAX_HEADERS) bad(`more than ${MAX_HEADERS} headers`);
  const headers: Record<string, string> = {};
  for (let i = 0; i < headerCount; i++) {
    const k = readStr(MAX_SHORT_STRING, 'header key');
    headers[k] = readStr(0xffff, 'header value');
  }
  need(4);
  const payloadLen = b.readUInt32BE(o);
  o += 4;
  need(payloadLen);
  const payload = b.subarray(o, o + payloadLen);
  o += payloadLen;
  if (o !== b.length) bad('trailing bytes after envelope');
  const env: Envelope = { id, topic, type, priority, timestamp, headers, payload };
  if (ttl !== undefined) env.ttl = ttl;
  if (source) env.source = source;
  if (target) env.target = target;
  if (correlationId) env.correlationId = correlationId;
  if (traceparent) env.traceparent = traceparent;
  validateEnvelope(env, opts);
  return env;
}
