import { TRACEPARENT_LENGTH, writeTraceparent } from '@fleet/tracing';
import { Command } from 'ioredis';

/**
 * The hot path's one Redis command, serialized by hand: EVALSHA of the xadd-batch script with thousands of
 * arguments. ioredis would build a Command with a flattened argument array and push every argument through
 * its generic RESP writer (several small writes per argument); here the whole command is sized once and
 * written into one Buffer. The command still goes through ioredis (ordering, replies, timeouts, reconnects).
 */

/** Values of one message in the script's argument order; '' = field absent. */
export interface BatchItem {
  envelope: Buffer;
  messageId: string;
  /** The gateway-assigned traceparent, '' for none, or a TraceFlags value (a number): write a fresh
   *  traceparent with these flags straight into the command (no string made on the hot path). */
  traceparent: string | number;
  replyTo: string;
  durable: string;
}

const CRLF_BYTES = 2;
let scratch = new Int32Array(4 * 1024);

function digits(n: number): number {
  if (n < 10) return 1;
  if (n < 100) return 2;
  if (n < 1000) return 3;
  if (n < 10000) return 4;
  if (n < 100000) return 5;
  return String(n).length;
}

/** Bytes of one bulk string of `len` bytes: `$<len>\r\n<bytes>\r\n`. */
function bulkSize(len: number): number {
  return 1 + digits(len) + CRLF_BYTES + len + CRLF_BYTES;
}

function writeInt(buf: Buffer, off: number, n: number): number {
  const d = digits(n);
  let end = off + d;
  let v = n;
  for (let i = end - 1; i >= off; i--) {
    buf[i] = 48 + (v % 10);
    v = Math.floor(v / 10);
  }
  buf[end++] = 13;
  buf[end++] = 10;
  return end;
}

function writeHeader(buf: Buffer, off: number, marker: number, n: number): number {
  buf[off] = marker;
  return writeInt(buf, off + 1, n);
}

function writeString(buf: Buffer, off: number, s: string, len: number): number {
  off = writeHeader(buf, off, 36 /* $ */, len);
  if (len > 0) off += buf.write(s, off, len, len === s.length ? 'latin1' : 'utf8');
  buf[off++] = 13;
  buf[off++] = 10;
  return off;
}

function writeBytes(buf: Buffer, off: number, b: Buffer): number {
  off = writeHeader(buf, off, 36, b.length);
  off += b.copy(buf, off);
  buf[off++] = 13;
  buf[off++] = 10;
  return off;
}

/**
 * `EVALSHA <sha> 1 <key> <head...> then per item: envelope id traceparent replyTo durable` as RESP bytes.
 * `head` are the script's leading ARGV (field names, acceptedAt).
 */
export function encodeEvalshaBatch(
  sha: string,
  key: string,
  head: readonly string[],
  items: readonly BatchItem[],
): Buffer {
  const n = items.length;
  if (scratch.length < n * 4) scratch = new Int32Array(n * 4 * 2);
  const lens = scratch;
  const fixed = ['EVALSHA', sha, '1', key, ...head];
  const fixedLens = fixed.map((s) => Buffer.byteLength(s));
  let size = 1 + digits(fixed.length + n * 5) + CRLF_BYTES;
  for (const len of fixedLens) size += bulkSize(len);
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    const it = items[i]!;
    const a = it.messageId.length === 0 ? 0 : Buffer.byteLength(it.messageId);
    const tp = it.traceparent;
    const b = typeof tp === 'number' ? TRACEPARENT_LENGTH : tp.length === 0 ? 0 : Buffer.byteLength(tp);
    const c = it.replyTo.length === 0 ? 0 : Buffer.byteLength(it.replyTo);
    const d = it.durable.length === 0 ? 0 : Buffer.byteLength(it.durable);
    lens[j] = a;
    lens[j + 1] = b;
    lens[j + 2] = c;
    lens[j + 3] = d;
    size += bulkSize(it.envelope.length) + bulkSize(a) + bulkSize(b) + bulkSize(c) + bulkSize(d);
  }
  const buf = Buffer.allocUnsafe(size);
  let off = writeHeader(buf, 0, 42 /* * */, fixed.length + n * 5);
  for (let k = 0; k < fixed.length; k++) off = writeString(buf, off, fixed[k]!, fixedLens[k]!);
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    const it = items[i]!;
    off = writeBytes(buf, off, it.envelope);
    off = writeString(buf, off, it.messageId, lens[j]!);
    const tp = it.traceparent;
    if (typeof tp === 'number') {
      off = writeHeader(buf, off, 36, TRACEPARENT_LENGTH);
      writeTraceparent(buf, off, tp);
      off += TRACEPARENT_LENGTH;
      buf[off++] = 13;
      buf[off++] = 10;
    } else off = writeString(buf, off, tp, lens[j + 1]!);
    off = writeString(buf, off, it.replyTo, lens[j + 2]!);
    off = writeString(buf, off, it.durable, lens[j + 3]!);
  }
  if (off !== size) throw new Error(`RESP size mismatch: ${off} != ${size}`);
  return buf;
}

/** An ioredis Command whose wire bytes are prebuilt (replies, timeouts and errors are ioredis' as usual). */
export class PrebuiltCommand extends Command {
  constructor(
    private readonly wire: Buffer,
    callback: (err?: Error | null, result?: unknown) => void,
  ) {
    super('evalsha', [], { replyEncoding: 'utf8' }, callback);
  }

  override toWritable(): Buffer {
    return this.wire;
  }
}
