import { randomFillSync } from 'node:crypto';
import { HEX_BYTE, isTraceparent } from '@fleet/protocol';

/** One W3C trace context: ids as lowercase hex, flags as a byte, and the header it came from. */
export interface TraceInfo {
  traceId: string;
  spanId: string;
  flags: number;
  traceparent: string;
}

export const TRACE_FLAG_SAMPLED = 0x01;

// One message's header is parsed several times on its way through a process (trace scope, span,
// reply): remember the last one. TraceInfo objects are shared, so treat them as read-only.
let lastHeader = '';
let lastInfo: TraceInfo | null = null;

/** Parses a W3C traceparent; null when malformed (validation lives in @fleet/protocol). */
export function parseTraceparent(s: string | undefined | null): TraceInfo | null {
  if (s === lastHeader) return lastInfo;
  if (typeof s !== 'string' || s.length !== 55 || !isTraceparent(s)) return null;
  // Version ff is forbidden by the W3C spec; versions above 00 keep the 00 layout we read.
  if (s.charCodeAt(0) === 102 && s.charCodeAt(1) === 102) return null;
  const info = {
    traceId: s.slice(3, 35),
    spanId: s.slice(36, 52),
    flags: Number.parseInt(s.slice(53, 55), 16),
    traceparent: s,
  };
  lastHeader = s;
  lastInfo = info;
  return info;
}

export function formatTraceparent(traceId: string, spanId: string, flags = TRACE_FLAG_SAMPLED): string {
  return `00-${traceId}-${spanId}-${HEX_BYTE[flags & 0xff]}`;
}

// Random ids come from a pooled buffer refilled in one syscall-sized chunk, so an id costs a
// slice + hex encode instead of a crypto call.
const ID_BYTES = 24; // 16 trace id + 8 span id
const POOL_IDS = 512;
const pool = Buffer.allocUnsafe(ID_BYTES * POOL_IDS);
let poolOffset = pool.length;

function take(bytes: number): number {
  if (poolOffset + bytes > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += bytes;
  return at;
}

const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

export function generateTraceId(): string {
  for (;;) {
    const at = take(16);
    const id = pool.toString('hex', at, at + 16);
    if (id !== ZERO_TRACE) return id;
  }
}

export function generateSpanId(): string {
  for (;;) {
    const at = take(8);
    const id = pool.toString('hex', at, at + 8);
    if (id !== ZERO_SPAN) return id;
  }
}

export const TRACEPARENT_LENGTH = 55;
const HEX_DIGITS = '0123456789abcdef';
/** Two hex digits of a byte as one big-endian 16-bit value (512 bytes: stays in L1 on the hot path). */
const HEX_PAIR = new Uint16Array(256);
for (let b = 0; b < 256; b++)
  HEX_PAIR[b] = (HEX_DIGITS.charCodeAt(b >> 4) << 8) | HEX_DIGITS.charCodeAt(b & 15);

// A DataView over the last destination's memory: the gateway writes a whole slab of commands' ids
// through one (apps/gateway/src/resp.ts carves its commands from a shared slab).
let viewOf: ArrayBufferLike | null = null;
let view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

/**
 * Writes a fresh traceparent (`00-<trace id>-<span id>-<flags>`, TRACEPARENT_LENGTH ASCII bytes) at
 * dst[off]. The gateway's hot path writes trace ids for messages without one straight into its Redis
 * command this way: no string is made, which is most of what a trace id costs there. Four hex digits
 * per 32-bit store (~40 ns an id against ~60 ns byte by byte on the 2-core dev box; tracing-micro).
 */
export function writeTraceparent(dst: Buffer, off: number, flags = TRACE_FLAG_SAMPLED): void {
  if (off < 0 || off + TRACEPARENT_LENGTH > dst.length) throw new RangeError('traceparent past the buffer');
  if (dst.buffer !== viewOf) {
    viewOf = dst.buffer;
    view = new DataView(dst.buffer);
  }
  const v = view;
  // The view spans dst's whole ArrayBuffer: positions are dst's offset in it plus off.
  let o = dst.byteOffset + off;
  let at = take(ID_BYTES);
  let traceBits = 0;
  let spanBits = 0;
  v.setUint16(o, 0x3030); // '00'
  v.setUint8(o + 2, 45); // '-'
  o += 3;
  for (let i = 0; i < 8; i++, o += 4) {
    const b0 = pool[at++]!;
    const b1 = pool[at++]!;
    traceBits |= b0 | b1;
    v.setUint32(o, (HEX_PAIR[b0]! << 16) | HEX_PAIR[b1]!);
  }
  v.setUint8(o++, 45);
  for (let i = 0; i < 4; i++, o += 4) {
    const b0 = pool[at++]!;
    const b1 = pool[at++]!;
    spanBits |= b0 | b1;
    v.setUint32(o, (HEX_PAIR[b0]! << 16) | HEX_PAIR[b1]!);
  }
  v.setUint8(o++, 45);
  v.setUint16(o, HEX_PAIR[flags & 0xff]!);
  // All-zero ids are invalid (W3C); a 2^-64 event: write another.
  if (traceBits === 0 || spanBits === 0) writeTraceparent(dst, off, flags);
}

/** A fresh trace (new trace id and span id), sampled flag set unless flags says otherwise. */
export function generateTraceInfo(flags = TRACE_FLAG_SAMPLED): TraceInfo {
  const traceId = generateTraceId();
  const spanId = generateSpanId();
  return { traceId, spanId, flags, traceparent: formatTraceparent(traceId, spanId, flags) };
}

export function generateTraceparent(flags = TRACE_FLAG_SAMPLED): string {
  // One hex encode for both ids (the hot path of the gateway for messages without a header).
  const at = take(ID_BYTES);
  const hex = pool.toString('hex', at, at + ID_BYTES);
  const traceId = hex.slice(0, 32);
  const spanId = hex.slice(32);
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return generateTraceparent(flags);
  return `00-${traceId}-${spanId}-${HEX_BYTE[flags & 0xff]}`;
}

/** The TraceInfo of a traceparent or a TraceInfo; a malformed header yields a fresh trace. */
export function toTraceInfo(trace: string | TraceInfo | undefined | null): TraceInfo {
  if (trace && typeof trace === 'object') return trace;
  return parseTraceparent(trace) ?? generateTraceInfo();
}
