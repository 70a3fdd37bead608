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
/** Highest envelope priority. Stored with the message (`messages.priority`); nothing orders by it yet. */
export const MAX_ENVELOPE_PRIORITY = 5;
/** Latest envelope timestamp: 9999-12-31T23:59:59.999Z. PostgreSQL's timestamptz (`messages.sent_at`) ends in
 *  year 294276; a round four-digit-year bound also refuses micro- and nanosecond timestamps (today's are
 *  ~1.7e15 and ~1.7e18), which would otherwise be stored centuries away or not at all. */
export const MAX_TIMESTAMP_MS = 253_402_300_799_999;
/** Longest partition key in UTF-8 bytes (it only picks a shard; the same bound as source/target). */
export const MAX_PARTITION_KEY_LENGTH = 1024;
const FLAG_TTL = 1;

// ignoreBOM: a leading U+FEFF is part of a field's text, not a byte-order mark to strip (the rare
// frames-roundtrip property failure: a source of "\uFEFF\u0000" came back as "\u0000").
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function bad(message: string): never {
  throw new ProtocolError(ErrorCode.INVALID_ENVELOPE, message);
}

/** `code`: INVALID_TOPIC for the topic (a NUL breaks the topic rules), else INVALID_ENVELOPE. */
function nul(field: string, code: ErrorCode): never {
  throw new ProtocolError(code, `${field} contains a NUL character (U+0000)`);
}

function badTimestamp(ts: number | bigint): never {
  bad(
    `timestamp ${ts} out of range: milliseconds since the Unix epoch, 0-${MAX_TIMESTAMP_MS} (up to year 9999)`,
  );
}

/** The checks decodeEnvelope makes after reading the fields (the rest it makes while reading them). */
function checkDecoded(env: Envelope, opts: DecodeOptions): void {
  if (env.id.length === 0 && !opts.allowEmptyId) bad('id is empty');
  const reason = topicError(env.topic);
  if (reason) throw new ProtocolError(ErrorCode.INVALID_TOPIC, `invalid topic: ${reason}`);
  if (env.priority > MAX_ENVELOPE_PRIORITY) bad(`priority must be an integer 0-${MAX_ENVELOPE_PRIORITY}`);
  if (env.traceparent !== undefined && !isTraceparent(env.traceparent)) bad('traceparent is not W3C format');
}

/** A string field for an envelope built in code: at most `max` UTF-8 bytes, no NUL. */
function checkStr(s: string, max: number, field: string, code: ErrorCode = ErrorCode.INVALID_ENVELOPE): void {
  if (s.length * 3 > max && Buffer.byteLength(s) > max)
    throw new ProtocolError(code, `${field} longer than ${max} bytes`);
  if (s.includes('\0')) nul(field, code);
}

/**
 * The envelope rules, for an envelope built in code (clients check before sending): exactly what
 * decodeEnvelope refuses, so what a client sends is what the gateway accepts and the persister stores.
 */
export function validateEnvelope(env: Envelope, opts: DecodeOptions = {}): void {
  checkStr(env.id, MAX_ID_LENGTH, 'id');
  checkStr(env.topic, MAX_TOPIC_LENGTH, 'topic', ErrorCode.INVALID_TOPIC);
  if (!Number.isInteger(env.priority) || env.priority < 0)
    bad(`priority must be an integer 0-${MAX_ENVELOPE_PRIORITY}`);
  const ts = env.timestamp;
  if (!Number.isInteger(ts) || ts < 0 || ts > MAX_TIMESTAMP_MS) badTimestamp(ts);
  if (!MESSAGE_TYPES.includes(env.type)) bad(`unknown message type ${String(env.type)}`);
  if (env.ttl !== undefined && !(Number.isInteger(env.ttl) && env.ttl >= 0 && env.ttl <= 0xffff_ffff))
    bad('ttl must be an integer 0-4294967295 (ms)');
  if (env.source !== undefined) checkStr(env.source, MAX_SHORT_STRING, 'source');
  if (env.target !== undefined) checkStr(env.target, MAX_SHORT_STRING, 'target');
  if (env.correlationId !== undefined) checkStr(env.correlationId, MAX_SHORT_STRING, 'correlation_id');
  const keys = Object.keys(env.headers);
  if (keys.length > MAX_HEADERS) bad(`more than ${MAX_HEADERS} headers`);
  for (const k of keys) {
    checkStr(k, MAX_SHORT_STRING, 'header key');
    checkStr(env.headers[k]!, 0xffff, 'header value');
  }
  checkDecoded(env, opts);
}

/** Checks a PUBLISH/REQUEST partition key (which picks the shard): length and NUL, like envelope strings. */
export function validatePartitionKey(key: string): void {
  checkStr(key, MAX_PARTITION_KEY_LENGTH, 'partition_key');
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

/** `code`: the error code of a value over `max` bytes or with a NUL (for the topic, a topic error). */
function readStr(
  c: Cursor,
  max: number,
  field: string,
  code: ErrorCode = ErrorCode.INVALID_ENVELOPE,
): string {
  need(c, 2);
  const b = c.b;
  const len = b.readUInt16BE(c.o);
  c.o += 2;
  if (len > max) throw new ProtocolError(code, `${field} longer than ${max} bytes`);
  if (len === 0) return '';
  need(c, len);
  const start = c.o;
  const end = start + len;
  c.o = end;
  // Fast path for the usual short ASCII ids and topics; anything else is strictly UTF-8 validated.
  // NUL is refused in every string: PostgreSQL text and jsonb cannot hold it (it would be ACKed, then never stored).
  if (len <= 128) {
    let ascii = true;
    for (let i = start; i < end; i++) {
      const x = b[i]!;
      if (x > 0x7f) {
        ascii = false;
        break;
      }
      if (x === 0) nul(field, code);
    }
    if (ascii) return b.toString('latin1', start, end);
  }
  let s: string;
  try {
    s = decoder.decode(b.subarray(start, end));
  } catch {
    bad(`${field} is not valid UTF-8`);
  }
  if (s.includes('\0')) nul(field, code);
  return s;
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
  // Exact while < 2^53, and every larger u64 still compares above the bound; the message shows it exactly.
  if (timestamp > MAX_TIMESTAMP_MS) badTimestamp(b.readBigUInt64BE(4));
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
  // Keys are unique: a repeat is refused (the stored row would keep one value, the envelope both). A
  // prototype-less map, so that `__proto__` or `constructor` are keys like any other.
  const headers: Record<string, string> = headerCount === 0 ? {} : Object.create(null);
  for (let i = 0; i < headerCount; i++) {
    const k = readStr(c, MAX_SHORT_STRING, 'header key');
    if (headers[k] !== undefined) bad(`duplicate header key ${JSON.stringify(k.slice(0, 64))}`);
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
  checkDecoded(env, opts);
  return env;
}
