/**
 * Trace references: how a message's trace travels inside the fleet (ingest record, `messages.traceparent`,
 * job payload `t`). A reference is either a W3C traceparent (the client's, or one the gateway generated)
 * or a DERIVED mark: two lowercase hex digits, the trace flags, meaning "the trace is the message id's".
 * A message published without a traceparent whose id is a lowercase UUID (every id the gateway assigns,
 * and the client's newMessageId) is traced under its id: trace id = the id's 32 hex digits, parent span
 * id = its last 16. The id already travels with the message, so its trace costs 2 bytes per hop instead
 * of 55 and no random bytes at the gateway: tracing with ids on and spans off measured +4.4% gateway and
 * +2.1% worker CPU per message with generated traceparents (bench `tracing`, docs/benchmarks.md).
 * A resend of the same id is traced in the same trace.
 */
import { isTraceparent } from './envelope.js';
import { HEX_BYTE } from './hex.js';

/** Length of a derived mark. */
export const DERIVED_TRACE_MARK_LENGTH = 2;

// Class of each ASCII char: HEX for a lowercase hex digit, plus NONZERO unless '0'. One table load per
// char and no branch in the loop: ~2x faster than comparisons per char (microbenchmark, 2-core dev box).
const HEX = 1;
const NONZERO = 2;
const CLASS = new Uint8Array(128);
for (let c = 48; c <= 57; c++) CLASS[c] = HEX | NONZERO;
for (let c = 97; c <= 102; c++) CLASS[c] = HEX | NONZERO;
CLASS[48] = HEX;
const isLowerHex = (c: number): boolean => c < 128 && (CLASS[c]! & HEX) !== 0;

/**
 * Whether an id can carry its own trace: a lowercase UUID (8-4-4-4-12 hex digits) whose trace id and
 * parent span id (its last 16 hex digits) are not all zeros, as W3C requires of both.
 */
export function isTraceableId(id: string): boolean {
  if (!mayTraceById(id)) return false;
  let all = HEX; // stays HEX while every digit is one
  let tail = 0; // NONZERO once a digit of the last 16 is (then the trace id is not all zeros either)
  for (let i = 0; i < 18; i++) {
    if (i === 8 || i === 13) continue;
    const c = id.charCodeAt(i);
    all &= CLASS[c & 127]! & (c >> 7 === 0 ? 3 : 0);
  }
  for (let i = 19; i < 36; i++) {
    if (i === 23) continue;
    const c = id.charCodeAt(i);
    const k = CLASS[c & 127]! & (c >> 7 === 0 ? 3 : 0);
    all &= k;
    tail |= k;
  }
  return all === HEX && (tail & NONZERO) !== 0;
}

/** The derived mark for trace flags (a byte). */
export function derivedTraceMark(flags: number): string {
  return HEX_BYTE[flags & 0xff]!;
}

/** Whether a reference is a derived mark (2 lowercase hex digits). */
export function isDerivedTraceMark(ref: string): boolean {
  return ref.length === 2 && isLowerHex(ref.charCodeAt(0)) && isLowerHex(ref.charCodeAt(1));
}

/** Whether a reference is one the fleet can resolve for this id: a W3C traceparent, or a mark with a traceable id. */
export function isTraceRef(ref: string, id: string): boolean {
  return isDerivedTraceMark(ref) ? isTraceableId(id) : isTraceparent(ref);
}

/**
 * The W3C traceparent a reference stands for: a traceparent as it is, a derived mark made from the id
 * (`00-<id's 32 hex>-<id's last 16 hex>-<mark>`); undefined for none or one it cannot resolve.
 */
export function resolveTraceparent(ref: string | undefined | null, id: string): string | undefined {
  if (!ref) return undefined;
  if (ref.length !== DERIVED_TRACE_MARK_LENGTH) return ref;
  if (!isDerivedTraceMark(ref) || !isTraceableId(id)) return undefined;
  return derivedTraceparent(ref, id);
}

/** The traceparent of a derived mark and its id, both already checked (isTraceRef): no check here. */
export function derivedTraceparent(mark: string, id: string): string {
  const tail = id.slice(19, 23) + id.slice(24);
  return `00-${id.slice(0, 8)}${id.slice(9, 13)}${id.slice(14, 18)}${tail}-${tail}-${mark}`;
}

/**
 * Whether an id may be given a derived mark at the gateway without the full check: the UUID's length and
 * dashes (a few char reads instead of ~36, for the gateway's 1% tracing budget). The persister makes the
 * full check (isTraceRef) and gives a message whose id fails it a generated traceparent instead.
 */
export function mayTraceById(id: string): boolean {
  return (
    id.length === 36 &&
    id.charCodeAt(8) === 45 &&
    id.charCodeAt(13) === 45 &&
    id.charCodeAt(18) === 45 &&
    id.charCodeAt(23) === 45
  );
}
