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

// ignoreBOM: a leading U+FEFF is part of a field's text, not a byte-order mark to strip (the rare
// frames-roundtrip property failure: a source of "\uFEFF\u0000" came back as "\u0000").
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

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

/** Whether the message's time to live (ms from its timestamp) has run out at `now`; no ttl = never. */
export function isExpired(env: Pick<Envelope, 'timestamp' | 'ttl'>, now: number): boolean {
  return env.ttl !== undefined && now > env.timestamp + env.ttl;
}

/** W3C traceparent `vv-<32 hex trace id>-<16 hex span id>-ff`, all-zero ids invalid. A hand-written scan:
 *  this runs once per message on every hop, and a regex costs ~10x more here. */
export function isTraceparent(value: string): boolean {
  if (
    value.length !== 55 ||
    value.charCodeAt(2) !== 45 ||
    value.charCodeAt(35) !== 45 ||
    value.charCodeAt(52) !== 45
  )
    return false;
  let traceNonZero = false;
  let spanNonZero = false;
  for (let i = 0; i < 55; i++) {
    if (i === 2 || i === 35 || i === 52) continue;
    const c = value.charCodeAt(i);
    const isHex = (c >= 48 && c <= 57) || (c >= 97 && c <= 102);
    if (!isHex) return false;
    if (c !== 48) {
      if (i > 2 && i < 35) traceNonZero = true;
      else if (i > 35 && i < 52) spanNonZero = true;
    }
  }
  return traceNonZero && spanNonZero;
}

/** Layout (big-endian), documented in docs/protocol.md "Envelope":
 *  u8 version | u8 type | u8 priority | u8 flags | u32 timestamp_hi | u32 timestamp_lo | [u32 ttl if flags&1]
 *  str16 id | str16 topic | str16 source | str16 target | str16 correlation_id | str16 traceparent
 *  u16 header_count { str16 key | str16 value }* | u32 payload_length | payload
 *  str16 = u16 byte length + UTF-8 bytes; an empty string means "absent" for optional fields. */
export function encodeEnvelope(env: Envelope): Buffer {
  // Sizes first, then one allocation; strings are written straight into it (no per-field buffers).
  const id = env.id;
  const topic = env.topic;
  const source = env.source ?? '';
  const target = env.target ?? '';
  const correlationId = env.correlationId ?? '';
  const traceparent = env.traceparent ?? '';
  const headerKeys = Object.keys(env.headers);
  const hasTtl = env.ttl !== undefined;
  let size = 12 + (hasTtl ? 4 : 0) + 12 + 2 + 4 + env.payload.byteLength;
  size += strBytes(id) + strBytes(topic) + strBytes(source) + strBytes(target);
  size += strBytes(correlationId) + strBytes(traceparent);
  for (const k of headerKeys) size += 4 + strBytes(k) + strBytes(env.headers[k]!);
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
  const writeStr = (s: string) => {
    const n = s.length === 0 ? 0 : out.write(s, o + 2, 'utf8');
    if (n > 0xffff) bad('string field longer than 65535 bytes');
    out.writeUInt16BE(n, o);
    o += 2 + n;
  };
  writeStr(id);
  writeStr(topic);
  writeStr(source);
  writeStr(target);
  writeStr(correlationId);
  writeStr(traceparent);
  out.writeUInt16BE(headerKeys.length, o);
  o += 2;
  for (const k of headerKeys) {
    writeStr(k);
    writeStr(env.headers[k]!);
  }
  out.writeUInt32BE(env.payload.byteLength, o);
  out.set(env.payload, o + 4);
  return out;
}

/** UTF-8 length of a string; ASCII (the common case for ids and topics) needs no scan by Buffer. */
function strBytes(s: string): number {
  return s.length === 0 ? 0 : Buffer.byteLength(s, 'utf8');
}

export interface DecodeOptions {
  /** The gateway accepts an empty id from clients and assigns one; every later hop requires it. */
  allowEmptyId?: boolean;
}

/** Read position inside one envelope. Module-level helpers (not per-call closures) keep decoding cheap. */
interface Cursor {
  b: Buffer;
  o: number;
}

function need(c: Cursor, n: number): void {
  if (c.o + n > c.b.length) bad('envelope truncated');
}

/** `tooLong`: the error code of a value over `max` bytes (an over-long topic is a topic error). */
function readStr(
  c: Cursor,
  max: number,
  field: string,
  tooLong: ErrorCode = ErrorCode.INVALID_ENVELOPE,
): string {
  need(c, 2);
  const b = c.b;
  const len = b.readUInt16BE(c.o);
  c.o += 2;
  if (len > max) throw new ProtocolError(tooLong, `${field} longer than ${max} bytes`);
  if (len === 0) return '';
  need(c, len);
  const start = c.o;
  const end = start + len;
  c.o = end;
  // Fast path for the usual short ASCII ids and topics; anything else is strictly UTF-8 validated.
  if (len <= 128) {
    let ascii = true;
    for (let i = start; i < end; i++) {
      if (b[i]! > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii) return b.toString('latin1', start, end);
  }
  try {
    return decoder.decode(b.subarray(start, end));
  } catch {
    bad(`${field} is not valid UTF-8`);
  }
}

/** Decodes and validates an envelope. `payload` is a view into `buf` (no copy). Throws ProtocolError. */
export function decodeEnvelope(buf: Uint8Array, opts: DecodeOptions = {}): Envelope {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const c: Cursor = { b, o: 0 };
  need(c, 12);
  const version = b[0]!;
  if (version !== ENVELOPE_VERSION)
    throw new ProtocolError(ErrorCode.UNSUPPORTED_VERSION, `envelope version ${version} not supported`);
  const typeIdx = b[1]!;
  const type = MESSAGE_TYPES[typeIdx];
  if (type === undefined) bad(`unknown message type ${typeIdx}`);
  const priority = b[2]!;
  const flags = b[3]!;
  if (flags & ~FLAG_TTL) bad('unknown envelope flags');
  const timestamp = b.readUInt32BE(4) * 0x1_0000_0000 + b.readUInt32BE(8);
  c.o = 12;
  let ttl: number | undefined;
  if (flags & FLAG_TTL) {
    need(c, 4);
    ttl = b.readUInt32BE(c.o);
    c.o += 4;
  }
  const id = readStr(c, MAX_ID_LENGTH, 'id');
  const topic = readStr(c, MAX_TOPIC_LENGTH, 'topic', ErrorCode.INVALID_TOPIC);
  const source = readStr(c, MAX_SHORT_STRING, 'source');
  const target = readStr(c, MAX_SHORT_STRING, 'target');
  const correlationId = readStr(c, MAX_SHORT_STRING, 'correlation_id');
  const traceparent = readStr(c, 64, 'traceparent');
  need(c, 2);
  const headerCount = b.readUInt16BE(c.o);
  c.o += 2;
  if (headerCount > MAX_HEADERS) bad(`more than ${MAX_HEADERS} headers`);
  const headers: Record<string, string> = {};
  for (let i = 0; i < headerCount; i++) {
    const k = readStr(c, MAX_SHORT_STRING, 'header key');
    headers[k] = readStr(c, 0xffff, 'header value');
  }
  need(c, 4);
  const payloadLen = b.readUInt32BE(c.o);
  c.o += 4;
  need(c, payloadLen);
  const payload = b.subarray(c.o, c.o + payloadLen);
  c.o += payloadLen;
  if (c.o !== b.length) bad('trailing bytes after envelope');
  const env: Envelope = { id, topic, type, priority, timestamp, headers, payload };
  if (ttl !== undefined) env.ttl = ttl;
  if (source) env.source = source;
  if (target) env.target = target;
  if (correlationId) env.correlationId = correlationId;
  if (traceparent) env.traceparent = traceparent;
  validateEnvelope(env, opts);
  return env;
}
