import { isUtf8 } from 'node:buffer';
import { ErrorCode, ProtocolError } from './errors.js';

/**
 * Fleet wire frames v1 (docs/protocol.md "Frames"). Every frame: a 12-byte big-endian header
 *   u32 length (bytes after this field = 8 + body) | u8 version | u8 type | u16 flags | u32 corr
 * then a type-specific body. str16 = u16 byte length + UTF-8 bytes; optional strings are absent when empty.
 */
export const PROTOCOL_VERSION = 1;
export const FRAME_HEADER_BYTES = 12;
/** Default and documented upper bound a gateway may announce in WELCOME. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

export const FrameType = {
  HELLO: 1,
  WELCOME: 2,
  PUBLISH: 3,
  ACK: 4,
  ERROR: 5,
  REQUEST: 6,
  RESPONSE: 7,
  PING: 8,
  PONG: 9,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];
/** `type` of an InvalidFrame from the decoder: no wire frame has type 0. */
export const INVALID_FRAME_TYPE = 0;

export const AckLevel = { STREAM: 0, DURABLE: 1 } as const;
export type AckLevel = (typeof AckLevel)[keyof typeof AckLevel];

/** PUBLISH flags bit 0: the client wants a durable ACK. */
export const PUBLISH_FLAG_DURABLE = 1;

export type HelloFrame = { type: 1; corr: number; clientName: string; token?: string };
export type WelcomeFrame = {
  type: 2;
  corr: number;
  gatewayId: string;
  maxFrameBytes: number;
  maxInFlight: number;
  idleTimeoutMs: number;
};
/** `envelope` is a view into the decoder's input (no copy). */
export type PublishFrame = {
  type: 3;
  corr: number;
  ackLevel: 0 | 1;
  partitionKey?: string;
  envelope: Buffer;
};
export type AckFrame = { type: 4; corr: number; ackLevel: 0 | 1; messageId: string; streamId: string };
export type ErrorFrame = { type: 5; corr: number; code: number; message: string };
export type RequestFrame = {
  type: 6;
  corr: number;
  timeoutMs: number;
  partitionKey?: string;
  envelope: Buffer;
};
export type ResponseFrame = {
  type: 7;
  corr: number;
  status: number;
  error?: string;
  traceparent?: string;
  payload: Buffer;
};
export type PingFrame = { type: 8; corr: number };
export type PongFrame = { type: 9; corr: number };

export type Frame =
  | HelloFrame
  | WelcomeFrame
  | PublishFrame
  | AckFrame
  | ErrorFrame
  | RequestFrame
  | ResponseFrame
  | PingFrame
  | PongFrame;

/** A complete frame whose type is unknown or whose body is bad: answer ERROR `code` with `corr` and go on. */
export interface InvalidFrame {
  type: typeof INVALID_FRAME_TYPE;
  corr: number;
  code: number;
  message: string;
}

const MAX_U16 = 0xffff;
const MAX_U32 = 0xffff_ffff;

// ---------------------------------------------------------------- encoding

function strBytes(s: string | undefined, field: string): number {
  if (!s) return 0;
  const n = Buffer.byteLength(s);
  if (n > MAX_U16)
    throw new ProtocolError(ErrorCode.MALFORMED_FRAME, `${field} longer than ${MAX_U16} bytes`);
  return n;
}

function u32(n: number, field: string): number {
  if (!Number.isInteger(n) || n < 0 || n > MAX_U32)
    throw new ProtocolError(ErrorCode.MALFORMED_FRAME, `${field} must be a u32, got ${n}`);
  return n;
}

function u16(n: number, field: string): number {
  if (!Number.isInteger(n) || n < 0 || n > MAX_U16)
    throw new ProtocolError(ErrorCode.MALFORMED_FRAME, `${field} must be a u16, got ${n}`);
  return n;
}

function writeHeader(out: Buffer, type: number, flags: number, corr: number): void {
  out.writeUInt32BE(out.length - 4, 0);
  out[4] = PROTOCOL_VERSION;
  out[5] = type;
  out.writeUInt16BE(flags, 6);
  out.writeUInt32BE(corr, 8);
}

/** Writes str16 at `o` (byte length `n` precomputed); returns the next offset. */
function writeStr(out: Buffer, o: number, s: string | undefined, n: number): number {
  out.writeUInt16BE(n, o);
  if (n > 0) out.write(s as string, o + 2, n, 'utf8');
  return o + 2 + n;
}

export function encodeFrame(frame: Frame): Buffer {
  const corr = u32(frame.corr, 'corr');
  switch (frame.type) {
    case FrameType.HELLO: {
      const a = strBytes(frame.clientName, 'client_name');
      const b = strBytes(frame.token, 'token');
      const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 4 + a + b);
      writeHeader(out, frame.type, 0, corr);
      writeStr(out, writeStr(out, FRAME_HEADER_BYTES, frame.clientName, a), frame.token, b);
      return out;
    }
    case FrameType.WELCOME: {
      const a = strBytes(frame.gatewayId, 'gateway_id');
      const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 2 + a + 12);
      writeHeader(out, frame.type, 0, corr);
      const o = writeStr(out, FRAME_HEADER_BYTES, frame.gatewayId, a);
      out.writeUInt32BE(u32(frame.maxFrameBytes, 'max_frame_bytes'), o);
      out.writeUInt32BE(u32(frame.maxInFlight, 'max_in_flight'), o + 4);
      out.writeUInt32BE(u32(frame.idleTimeoutMs, 'idle_timeout_ms'), o + 8);
      return out;
    }
    case FrameType.PUBLISH:
      return encodePublish(corr, frame.ackLevel, frame.partitionKey, frame.envelope);
    case FrameType.ACK:
      return encodeAck(corr, frame.ackLevel, frame.messageId, frame.streamId);
    case FrameType.ERROR: {
      const a = strBytes(frame.message, 'message');
      const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 2 + 2 + a);
      writeHeader(out, frame.type, 0, corr);
      out.writeUInt16BE(u16(frame.code, 'code'), FRAME_HEADER_BYTES);
      writeStr(out, FRAME_HEADER_BYTES + 2, frame.message, a);
      return out;
    }
    case FrameType.REQUEST:
      return encodeRequest(corr, frame.timeoutMs, frame.partitionKey, frame.envelope);
    case FrameType.RESPONSE: {
      const a = strBytes(frame.error, 'error');
      const b = strBytes(frame.traceparent, 'traceparent');
      const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 2 + 4 + a + b + frame.payload.byteLength);
      writeHeader(out, frame.type, 0, corr);
      out.writeUInt16BE(u16(frame.status, 'status'), FRAME_HEADER_BYTES);
      let o = writeStr(out, FRAME_HEADER_BYTES + 2, frame.error, a);
      o = writeStr(out, o, frame.traceparent, b);
      out.set(frame.payload, o);
      return out;
    }
    case FrameType.PING:
    case FrameType.PONG: {
      const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
      writeHeader(out, frame.type, 0, corr);
      return out;
    }
    default:
      throw new ProtocolError(
        ErrorCode.UNKNOWN_FRAME_TYPE,
        `cannot encode frame type ${(frame as { type: unknown }).type}`,
      );
  }
}

/** PUBLISH without building a frame object (client hot path). `envelope` is copied once into the frame. */
export function encodePublish(
  corr: number,
  ackLevel: 0 | 1,
  partitionKey: string | undefined,
  envelope: Uint8Array,
): Buffer {
  const a = strBytes(partitionKey, 'partition_key');
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 2 + a + envelope.byteLength);
  writeHeader(out, FrameType.PUBLISH, ackLevel === AckLevel.DURABLE ? PUBLISH_FLAG_DURABLE : 0, corr);
  out.set(envelope, writeStr(out, FRAME_HEADER_BYTES, partitionKey, a));
  return out;
}

export function encodeRequest(
  corr: number,
  timeoutMs: number,
  partitionKey: string | undefined,
  envelope: Uint8Array,
): Buffer {
  const a = strBytes(partitionKey, 'partition_key');
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 4 + 2 + a + envelope.byteLength);
  writeHeader(out, FrameType.REQUEST, 0, corr);
  out.writeUInt32BE(u32(timeoutMs, 'timeout_ms'), FRAME_HEADER_BYTES);
  out.set(envelope, writeStr(out, FRAME_HEADER_BYTES + 4, partitionKey, a));
  return out;
}

/** ACK without building a frame object (gateway hot path). */
export function encodeAck(corr: number, ackLevel: 0 | 1, messageId: string, streamId: string): Buffer {
  const a = strBytes(messageId, 'message_id');
  const b = strBytes(streamId, 'stream_id');
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 1 + 4 + a + b);
  writeHeader(out, FrameType.ACK, 0, corr);
  out[FRAME_HEADER_BYTES] = ackLevel;
  writeStr(out, writeStr(out, FRAME_HEADER_BYTES + 1, messageId, a), streamId, b);
  return out;
}

export function encodeError(corr: number, code: number, message: string): Buffer {
  return encodeFrame({ type: FrameType.ERROR, corr, code, message });
}

// ---------------------------------------------------------------- decoding

/** Thrown inside body parsing; turned into an InvalidFrame (never escapes the decoder). */
class BodyError {
  constructor(readonly message: string) {}
}

/** Cursor over one frame body [o, end). */
class BodyReader {
  constructor(
    readonly buf: Buffer,
    public o: number,
    readonly end: number,
  ) {}

  need(n: number, field: string): void {
    if (this.o + n > this.end) throw new BodyError(`body truncated at ${field}`);
  }
  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.o++]!;
  }
  u16(field: string): number {
    this.need(2, field);
    const v = this.buf.readUInt16BE(this.o);
    this.o += 2;
    return v;
  }
  u32(field: string): number {
    this.need(4, field);
    const v = this.buf.readUInt32BE(this.o);
    this.o += 4;
    return v;
  }
  str(field: string): string {
    const n = this.u16(field);
    if (n === 0) return '';
    this.need(n, field);
    const s = this.o;
    this.o += n;
    const view = this.buf.subarray(s, s + n);
    if (!isUtf8(view)) throw new BodyError(`${field} is not valid UTF-8`);
    return view.toString('utf8');
  }
  rest(): Buffer {
    const v = this.buf.subarray(this.o, this.end);
    this.o = this.end;
    return v;
  }
  done(): void {
    if (this.o !== this.end) throw new BodyError(`${this.end - this.o} trailing bytes after body`);
  }
}

/** Checks the header bytes visible so far at `off` (`avail` of them); returns the frame's total size or 0 if unknown yet. */
function checkHeader(buf: Buffer, off: number, avail: number, maxFrameBytes: number): number {
  if (avail < 4) return 0;
  const length = buf.readUInt32BE(off);
  if (length < FRAME_HEADER_BYTES - 4)
    throw new ProtocolError(ErrorCode.MALFORMED_FRAME, `frame length ${length} is below the 8-byte minimum`);
  if (4 + length > maxFrameBytes)
    throw new ProtocolError(
      ErrorCode.FRAME_TOO_LARGE,
      `frame of ${4 + length} bytes exceeds the ${maxFrameBytes}-byte limit`,
    );
  if (avail < 5) return 0;
  const version = buf[off + 4]!;
  if (version !== PROTOCOL_VERSION)
    throw new ProtocolError(ErrorCode.UNSUPPORTED_VERSION, `protocol version ${version} not supported`);
  return avail < FRAME_HEADER_BYTES ? 0 : 4 + length;
}

/** Parses one complete frame occupying buf[off, off + total). */
function parseFrame(buf: Buffer, off: number, total: number): Frame | InvalidFrame {
  const type = buf[off + 5]!;
  const flags = buf.readUInt16BE(off + 6);
  const corr = buf.readUInt32BE(off + 8);
  // An unknown type is skipped whatever its flags (section 3: the type is checked before the body).
  if (type === 0 || type > FrameType.PONG)
    return { type: 0, corr, code: ErrorCode.UNKNOWN_FRAME_TYPE, message: `unknown frame type ${type}` };
  const r = new BodyReader(buf, off + FRAME_HEADER_BYTES, off + total);
  // Bad PUBLISH/REQUEST bodies concern one message: the connection stays. Others are malformed.
  const badCode =
    type === FrameType.PUBLISH || type === FrameType.REQUEST
      ? ErrorCode.INVALID_ENVELOPE
      : ErrorCode.MALFORMED_FRAME;
  try {
    if (flags !== 0 && !(type === FrameType.PUBLISH && flags === PUBLISH_FLAG_DURABLE))
      throw new BodyError(`unknown flags 0x${flags.toString(16)}`);
    switch (type) {
      case FrameType.HELLO: {
        const clientName = r.str('client_name');
        const token = r.str('token');
        r.done();
        const f: HelloFrame = { type, corr, clientName };
        if (token) f.token = token;
        return f;
      }
      case FrameType.WELCOME: {
        const gatewayId = r.str('gateway_id');
        const maxFrameBytes = r.u32('max_frame_bytes');
        const maxInFlight = r.u32('max_in_flight');
        const idleTimeoutMs = r.u32('idle_timeout_ms');
        r.done();
        return { type, corr, gatewayId, maxFrameBytes, maxInFlight, idleTimeoutMs };
      }
      case FrameType.PUBLISH: {
        const partitionKey = r.str('partition_key');
        const f: PublishFrame = {
          type,
          corr,
          ackLevel: (flags & PUBLISH_FLAG_DURABLE) as 0 | 1,
          envelope: r.rest(),
        };
        if (partitionKey) f.partitionKey = partitionKey;
        return f;
      }
      case FrameType.ACK: {
        const ackLevel = r.u8('level');
        if (ackLevel > AckLevel.DURABLE) throw new BodyError(`unknown ack level ${ackLevel}`);
        const messageId = r.str('message_id');
        const streamId = r.str('stream_id');
        r.done();
        return { type, corr, ackLevel: ackLevel as 0 | 1, messageId, streamId };
      }
      case FrameType.ERROR: {
        const code = r.u16('code');
        const message = r.str('message');
        r.done();
        return { type, corr, code, message };
      }
      case FrameType.REQUEST: {
        const timeoutMs = r.u32('timeout_ms');
        const partitionKey = r.str('partition_key');
        const f: RequestFrame = { type, corr, timeoutMs, envelope: r.rest() };
        if (partitionKey) f.partitionKey = partitionKey;
        return f;
      }
      case FrameType.RESPONSE: {
        const status = r.u16('status');
        const error = r.str('error');
        const traceparent = r.str('traceparent');
        const f: ResponseFrame = { type, corr, status, payload: r.rest() };
        if (error) f.error = error;
        if (traceparent) f.traceparent = traceparent;
        return f;
      }
      case FrameType.PING:
      case FrameType.PONG:
        r.done();
        return { type, corr };
      default:
        return { type: 0, corr, code: ErrorCode.UNKNOWN_FRAME_TYPE, message: `unknown frame type ${type}` };
    }
  } catch (e) {
    if (e instanceof BodyError)
      return { type: 0, corr, code: badCode, message: `frame type ${type}: ${e.message}` };
    throw e;
  }
}

/**
 * Incremental frame decoder for one connection. Frames that lie inside one pushed chunk are parsed in place
 * (payload/envelope are views into the chunk); only a frame spanning chunks is concatenated, once.
 * Memory is bounded by maxFrameBytes: a length prefix over the limit is rejected from the header alone.
 * `firstFrameMaxBytes` (default maxFrameBytes) bounds the first frame only: a server expecting HELLO first
 * buffers little for a client that has not identified itself, while HELLO + a large frame in one write work.
 */
export class FrameDecoder {
  readonly maxFrameBytes: number;
  /** The limit for the next frame's header check: firstFrameMaxBytes until one frame is complete. */
  private limit: number;
  /** Buffered pieces of one incomplete frame. */
  private chunks: Buffer[] = [];
  private pendingBytes = 0;
  /** Total size of the incomplete frame, 0 while its header is incomplete. */
  private expected = 0;
  /** A framing error was returned by decode(): later input is ignored. */
  private failed = false;

  constructor(opts: { maxFrameBytes: number; firstFrameMaxBytes?: number }) {
    if (!(opts.maxFrameBytes >= FRAME_HEADER_BYTES)) throw new RangeError('maxFrameBytes must be >= 12');
    this.maxFrameBytes = opts.maxFrameBytes;
    const first = opts.firstFrameMaxBytes ?? opts.maxFrameBytes;
    if (!(first >= FRAME_HEADER_BYTES)) throw new RangeError('firstFrameMaxBytes must be >= 12');
    this.limit = Math.min(first, opts.maxFrameBytes);
  }

  /** Bytes buffered of an incomplete frame. */
  get pending(): number {
    return this.pendingBytes;
  }

  /** Drops any buffered partial frame (the connection is closing); later input is ignored. */
  discard(): void {
    this.chunks = [];
    this.pendingBytes = 0;
    this.expected = 0;
    this.failed = true;
  }

  /**
   * Appends a socket chunk; returns the complete frames it now holds.
   * Throws ProtocolError (MALFORMED_FRAME / FRAME_TOO_LARGE / UNSUPPORTED_VERSION) on a framing error:
   * the connection must close (the decoder is reset and must not be used again). The frames before the
   * error in the same chunk are lost: a server that answers each frame uses decode() instead.
   */
  push(chunk: Buffer): Array<Frame | InvalidFrame> {
    const out: Array<Frame | InvalidFrame> = [];
    const err = this.run(chunk, out);
    if (err) throw err;
    return out;
  }

  /**
   * Like push(), but never throws: a framing error becomes the last item, an InvalidFrame with corr 0 and
   * the closing code, after every complete frame that preceded it (they still get their answers).
   * After it, the decoder holds nothing and ignores further input.
   */
  decode(chunk: Buffer): Array<Frame | InvalidFrame> {
    const out: Array<Frame | InvalidFrame> = [];
    if (this.failed) return out;
    const err = this.run(chunk, out);
    if (err) {
      this.failed = true;
      out.push({ type: 0, corr: 0, code: err.code, message: err.message });
    }
    return out;
  }

  /** Decodes `chunk` into `out`; returns the framing error that ended it, if any (state then reset). */
  private run(chunk: Buffer, out: Array<Frame | InvalidFrame>): ProtocolError | null {
    try {
      let off = 0;
      if (this.pendingBytes > 0) {
        off = this.completePending(chunk, out);
        if (off < 0) return null;
      }
      const len = chunk.length;
      while (off < len) {
        const avail = len - off;
        const total = checkHeader(chunk, off, avail, this.limit);
        if (total === 0) {
          // Header incomplete: copy the few bytes so the whole chunk is not retained.
          this.chunks = [Buffer.from(chunk.subarray(off))];
          this.pendingBytes = avail;
          break;
        }
        if (avail < total) {
          this.chunks = [chunk.subarray(off)];
          this.pendingBytes = avail;
          this.expected = total;
          break;
        }
        out.push(parseFrame(chunk, off, total));
        this.limit = this.maxFrameBytes;
        off += total;
      }
      return null;
    } catch (e) {
      this.chunks = [];
      this.pendingBytes = 0;
      this.expected = 0;
      if (e instanceof ProtocolError) return e;
      throw e;
    }
  }

  /** Feeds `chunk` to the pending frame. Returns the offset in `chunk` after it, or -1 if still incomplete. */
  private completePending(chunk: Buffer, out: Array<Frame | InvalidFrame>): number {
    let off = 0;
    if (this.expected === 0) {
      // Fewer than 12 header bytes buffered: join them with the next few (at most 12 bytes copied).
      const take = Math.min(FRAME_HEADER_BYTES - this.pendingBytes, chunk.length);
      const head = Buffer.concat([...this.chunks, chunk.subarray(0, take)]);
      off = take;
      this.chunks = [head];
      this.pendingBytes = head.length;
      this.expected = checkHeader(head, 0, head.length, this.limit);
      if (this.expected === 0) return -1;
    }
    const need = this.expected - this.pendingBytes;
    const avail = chunk.length - off;
    if (avail < need) {
      if (avail > 0) {
        this.chunks.push(off === 0 ? chunk : chunk.subarray(off));
        this.pendingBytes += avail;
      }
      return -1;
    }
    this.chunks.push(chunk.subarray(off, off + need));
    const frame = Buffer.concat(this.chunks, this.expected);
    this.chunks = [];
    this.pendingBytes = 0;
    this.expected = 0;
    out.push(parseFrame(frame, 0, frame.length));
    this.limit = this.maxFrameBytes;
    return off + need;
  }
}
