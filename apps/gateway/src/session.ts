import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { FleetConfig } from '@fleet/config';
import { LogLimiter, type PressureMonitor } from '@fleet/pressure';
import {
  AckLevel,
  closesConnection,
  decodeEnvelope,
  derivedTraceMark,
  type Envelope,
  ErrorCode,
  encodeAck,
  encodeEnvelope,
  encodeError,
  encodeFrame,
  type FleetKeys,
  type Frame,
  FrameDecoder,
  FrameType,
  formatReplyAddress,
  type HelloFrame,
  INVALID_FRAME_TYPE,
  type InvalidFrame,
  isTraceableId,
  mayTraceById,
  newMessageId,
  ProtocolError,
  type PublishFrame,
  type RequestFrame,
  validatePartitionKey,
} from '@fleet/protocol';
import type { FleetRedis } from '@fleet/redis';
import {
  generateTraceparent,
  type Logger,
  logReceived,
  NOOP_TRACER,
  parseTraceparent,
  startBatchSpan,
  type Telemetry,
} from '@fleet/tracing';
import { SpanStatusCode } from '@opentelemetry/api';
import { appendErrorCause, appendErrorCode } from './append-errors.js';
import { Appender, type AppendResult, type PendingAppend } from './appender.js';
import { TokenAuth } from './auth.js';
import { Connection, type Waiter } from './connection.js';
import type { GatewayInstruments } from './instruments.js';
import type { Output } from './output.js';
import type { Waiters } from './waiters.js';

/** One message on its way to Redis. */
export interface Entry extends PendingAppend {
  conn: Connection;
  corr: number;
  waiter: Waiter | null;
  /** The message's trace reference (the envelope's traceparent, the gateway's, or a derived mark while no
   *  spans are recorded): the append span links to it. */
  trace: string;
}

/** After shedding, the partial-frame total is brought down to this fraction of the bound (hysteresis). */
const PARTIAL_SHED_TARGET = 0.75;
/** At most one log line per this interval about shed connections (a flood must not flood the log). */
const SHED_LOG_INTERVAL_MS = 10_000;
/** A connection refused over network.max_connections gets this long to read its ERROR before it is destroyed. */
const REFUSED_LINGER_MS = 1_000;
/** An append span links at most this many message traces (a 100-message entry links them all). */
const MAX_SPAN_LINKS = 128;
const DECODE_OPTIONS = { allowEmptyId: true } as const;
/** The corr of answers about the connection rather than one frame (docs/protocol.md). */
const CONNECTION_CORR = 0;
/** corr 0 means "about the connection" in answers, so a PUBLISH/REQUEST using it could not be answered. */
const CORR_ZERO = 'PUBLISH and REQUEST need a non-zero corr';
/** A refused client's name is logged cut to this many characters (it is the client's to choose). */
const LOGGED_CLIENT_NAME_CHARS = 64;

export interface SessionOptions {
  gatewayId: string;
  keys: FleetKeys;
  redis: FleetRedis;
  output: Output;
  waiters: Waiters;
  /** Redis memory / backlog pressure: PUBLISH and REQUEST are refused with OVERLOADED while it holds. */
  pressure: PressureMonitor;
  instruments: GatewayInstruments;
  log: Logger;
  telemetry?: Pick<Telemetry, 'tracer' | 'newTraceparent'>;
  maxOutstandingCalls: number;
}

/**
 * The client sessions of one gateway process: accept, HELLO (auth), frame decoding, PUBLISH and REQUEST
 * validation and admission, the append to Redis and its outcome, and the session bounds (deadlines swept
 * over all connections, the process-wide bound on bytes held in unfinished frames).
 */
export class Sessions implements AppendResult<Entry> {
  readonly conns = new Set<Connection>();
  readonly appender: Appender<Entry>;
  private cfg: FleetConfig;
  private auth: TokenAuth;
  private readonly gatewayId: string;
  private readonly keys: FleetKeys;
  private readonly output: Output;
  private readonly waiters: Waiters;
  private readonly pressure: PressureMonitor;
  private readonly instruments: GatewayInstruments;
  private readonly log: Logger;
  private readonly tracer: Telemetry['tracer'];
  private readonly newTraceparent: () => string;
  /** Trace flags of the trace ids this gateway makes when it records no spans (null: it makes none). */
  private readonly lazyTraceFlags: number | null;
  /** The derived trace mark of those flags (ids traced under themselves). */
  private readonly derivedMark: string;
  private nextConnId = 1;
  /** Shutdown: no new connections, no more input. */
  private closing = false;
  /** performance.now() of the chunk being decoded: one read time for all its frames (ACK latency). */
  private chunkReadAt = 0;

  partialBytes = 0;
  peakPartialBytes = 0;
  partialShed = 0;
  private shedLoggedAt = 0;
  private shedSinceLog = 0;
  /** Failed appends: one error line per 5 s at most, with the messages failed since the last one. */
  private readonly appendErrors = new LogLimiter();
  private appendFailedMessages = 0;
  private appendFailedBatches = 0;

  constructor(cfg: FleetConfig, o: SessionOptions) {
    this.cfg = cfg;
    this.auth = new TokenAuth(cfg.auth.tokens);
    this.gatewayId = o.gatewayId;
    this.keys = o.keys;
    this.output = o.output;
    this.waiters = o.waiters;
    this.pressure = o.pressure;
    this.instruments = o.instruments;
    this.log = o.log;
    this.tracer = o.telemetry?.tracer ?? NOOP_TRACER;
    this.newTraceparent = o.telemetry?.newTraceparent ?? generateTraceparent;
    // Without span recording, sampling decides nothing per message: the flags are the same for every id.
    const sample = this.tracer === NOOP_TRACER ? this.newTraceparent() : '';
    this.lazyTraceFlags = sample ? (parseTraceparent(sample)?.flags ?? null) : null;
    this.derivedMark = derivedTraceMark(this.lazyTraceFlags ?? 0);
    // The appender reports each entry's outcome straight to onAppended / onFailed below.
    this.appender = new Appender<Entry>(o.redis, o.keys, this, o.maxOutstandingCalls);
  }

  /** Live fields: tokens, limits and deadlines (read per connection or per sweep from the new config). */
  reconfigure(cfg: FleetConfig): void {
    this.cfg = cfg;
    this.auth = new TokenAuth(cfg.auth.tokens);
  }

  /** Shutdown: refuse new sockets, stop reading, pause every socket. */
  stop(): void {
    this.closing = true;
    for (const conn of this.conns) conn.socket.pause();
  }

  // ------------------------------------------------------------------ connections

  accept(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    socket.on('error', () => {}); // resets are normal; 'close' cleans up
    if (this.conns.size >= this.cfg.network.max_connections) {
      this.output.countError(ErrorCode.OVERLOADED);
      socket.end(encodeError(CONNECTION_CORR, ErrorCode.OVERLOADED, 'too many connections'));
      setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
      return;
    }
    socket.setNoDelay(true);
    const conn = new Connection(
      this.nextConnId++,
      socket,
      // Before HELLO a client has not identified itself: its first frame may only be small.
      new FrameDecoder({
        maxFrameBytes: this.cfg.network.max_frame_bytes,
        firstFrameMaxBytes: this.cfg.gateway.max_hello_bytes,
      }),
      performance.now(),
    );
    this.conns.add(conn);
    this.instruments.connectionOpened();
    socket.on('data', (chunk: Buffer) => this.onData(conn, chunk));
    socket.on('drain', this.output.resumeEligible);
    socket.on('close', () => this.onClose(conn));
  }

  /**
   * Connection deadlines, all measured in progress rather than bytes (a client trickling bytes does not
   * reset them): HELLO within handshake_timeout_ms of accept; an unfinished frame complete within
   * frame_timeout_ms of its first bytes; idle = no complete frame for network.timeout_ms with nothing in
   * flight. Each closes with ERROR TIMEOUT (corr 0).
   */
  sweep(now: number): void {
    if (this.closing) return;
    const idle = this.cfg.network.timeout_ms;
    const { handshake_timeout_ms: handshake, frame_timeout_ms: frame } = this.cfg.gateway;
    for (const conn of this.conns) {
      // Waiting on our side (our own backpressure) is not the client being slow.
      if (conn.ending || conn.paused) continue;
      if (handshake > 0 && !conn.hello && now - conn.acceptedAt >= handshake) {
        this.endWithError(conn, ErrorCode.TIMEOUT, `no HELLO within ${handshake} ms`);
      } else if (frame > 0 && conn.partialSince !== 0 && now - conn.partialSince >= frame) {
        this.endWithError(conn, ErrorCode.TIMEOUT, `frame unfinished after ${frame} ms`);
      } else if (idle > 0 && conn.inFlight === 0 && now - conn.lastFrameAt >= idle) {
        // A request or durable commit pending is waiting on us, not the client being idle.
        this.endWithError(conn, ErrorCode.TIMEOUT, `idle for ${idle} ms`);
      }
    }
  }

  /** Counts the connection's unfinished frame in the process-wide total; sheds the oldest when over. */
  private trackPartial(conn: Connection, completed: boolean, now: number): void {
    const pending = conn.decoder.pending;
    if (pending === 0) conn.partialSince = 0;
    else if (completed || conn.partialSince === 0) conn.partialSince = now;
    if (pending === conn.partialBytes) return;
    this.partialBytes += pending - conn.partialBytes;
    conn.partialBytes = pending;
    if (this.partialBytes > this.peakPartialBytes) this.peakPartialBytes = this.partialBytes;
    if (this.partialBytes > this.cfg.gateway.max_partial_bytes) this.shedPartials();
  }

  /** Drops the connection's unfinished frame (it is closing): its bytes no longer count. */
  private releasePartial(conn: Connection): void {
    conn.decoder.discard();
    this.partialBytes -= conn.partialBytes;
    conn.partialBytes = 0;
    conn.partialSince = 0;
  }

  /**
   * Over gateway.max_partial_bytes: closes the connections whose unfinished frames are oldest (largest
   * first among equals) until the total is back under PARTIAL_SHED_TARGET of the bound. A flood of slow
   * senders is what holds frames longest; a live client completes its frames within a few reads, so fresh
   * clients keep being served.
   */
  private shedPartials(): void {
    const bound = this.cfg.gateway.max_partial_bytes;
    const holders: Connection[] = [];
    for (const c of this.conns) if (c.partialBytes > 0 && !c.ending) holders.push(c);
    holders.sort((a, b) => a.partialSince - b.partialSince || b.partialBytes - a.partialBytes);
    const target = bound * PARTIAL_SHED_TARGET;
    let shed = 0;
    for (const c of holders) {
      if (this.partialBytes <= target) break;
      this.endWithError(c, ErrorCode.OVERLOADED, 'gateway holds too many bytes of unfinished frames');
      shed++;
    }
    this.partialShed += shed;
    this.shedSinceLog += shed;
    const now = Date.now();
    if (now - this.shedLoggedAt >= SHED_LOG_INTERVAL_MS) {
      this.log.warn(
        { closed: this.shedSinceLog, bound },
        'closed connections holding unfinished frames over gateway.max_partial_bytes',
      );
      this.shedLoggedAt = now;
      this.shedSinceLog = 0;
    }
  }

  private onClose(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    this.conns.delete(conn);
    this.releasePartial(conn);
    this.output.forget(conn);
    this.waiters.forgetConnection(conn);
    this.instruments.connectionClosed();
    this.output.resumeEligible();
  }

  /**
   * Sends a connection-level ERROR (corr 0 unless given) and closes the connection after it. Input stops
   * here; frames read before it and still unanswered are answered first (each PUBLISH/REQUEST gets exactly
   * one answer), then this ERROR goes out after the last of them.
   */
  endWithError(conn: Connection, code: number, message: string, corr = CONNECTION_CORR): void {
    if (conn.ending || conn.closed) return;
    conn.ending = true;
    this.releasePartial(conn);
    this.output.closeAfterAnswers(conn, code, message, corr);
  }

  // ------------------------------------------------------------------ input

  private onData(conn: Connection, chunk: Buffer): void {
    // After a closing ERROR, or once shutdown has stopped reading, input is not processed.
    if (conn.ending || this.closing) return;
    this.instruments.bytesIn(chunk.length);
    // One read time for every frame of the chunk: they arrived together (ACK latency starts here).
    this.chunkReadAt = performance.now();
    // A framing error comes back as the last item, after the frames before it (they are answered first).
    const frames = conn.decoder.decode(chunk);
    if (frames.length > 0) conn.lastFrameAt = this.chunkReadAt;
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!;
      this.instruments.frameIn(f.type);
      if (f.type === FrameType.PUBLISH) {
        if (!conn.hello) this.endWithError(conn, ErrorCode.HELLO_REQUIRED, 'send HELLO first');
        else if (f.corr === CONNECTION_CORR) this.endWithError(conn, ErrorCode.MALFORMED_FRAME, CORR_ZERO);
        else this.onPublish(conn, f);
      } else {
        this.onOtherFrame(conn, f);
      }
      if (conn.ending) return;
    }
    this.trackPartial(conn, frames.length > 0, this.chunkReadAt);
    if (conn.ending) return; // shed: the process held too many bytes of unfinished frames
    this.output.pauseIfFull(conn);
  }

  private onOtherFrame(conn: Connection, f: Frame | InvalidFrame): void {
    if (!conn.hello) {
      if (f.type === FrameType.HELLO) this.onHello(conn, f);
      else if (f.type === INVALID_FRAME_TYPE) this.endWithError(conn, f.code, f.message, f.corr);
      else this.endWithError(conn, ErrorCode.HELLO_REQUIRED, 'send HELLO first');
      return;
    }
    switch (f.type) {
      case INVALID_FRAME_TYPE:
        if (closesConnection(f.code)) this.endWithError(conn, f.code, f.message, f.corr);
        else this.output.sendError(conn, f.corr, f.code, f.message);
        return;
      case FrameType.REQUEST:
        this.onRequest(conn, f);
        return;
      case FrameType.PING:
        this.instruments.framesOut(FrameType.PONG, 1);
        this.output.queueWrite(conn, encodeFrame({ type: FrameType.PONG, corr: f.corr }));
        return;
      case FrameType.PONG:
        // Either side may send PONG (a keepalive a client may send unasked): it needs no answer.
        return;
      case FrameType.HELLO:
        this.output.sendError(conn, f.corr, ErrorCode.NOT_SUPPORTED, 'HELLO already received');
        return;
      default:
        this.output.sendError(
          conn,
          f.corr,
          ErrorCode.NOT_SUPPORTED,
          `frame type ${f.type} is not sent by clients`,
        );
    }
  }

  private onHello(conn: Connection, f: HelloFrame): void {
    const denied = this.auth.check(f.token);
    if (denied !== null) {
      this.log.info(
        { client: f.clientName.slice(0, LOGGED_CLIENT_NAME_CHARS), code: denied },
        'authentication refused',
      );
      this.endWithError(
        conn,
        denied,
        denied === ErrorCode.AUTH_REQUIRED ? 'this gateway requires a token' : 'invalid token',
        f.corr,
      );
      return;
    }
    conn.hello = true;
    conn.clientName = f.clientName;
    const net = this.cfg.network;
    this.instruments.framesOut(FrameType.WELCOME, 1);
    this.output.queueWrite(
      conn,
      encodeFrame({
        type: FrameType.WELCOME,
        corr: f.corr,
        gatewayId: this.gatewayId,
        maxFrameBytes: net.max_frame_bytes,
        maxInFlight: net.max_in_flight,
        idleTimeoutMs: net.timeout_ms,
      }),
    );
  }

  /** Decodes and validates the envelope (and the partition key); null when answered with an error. */
  private decode(
    conn: Connection,
    corr: number,
    envelopeBytes: Buffer,
    partitionKey: string | undefined,
  ): Envelope | null {
    try {
      if (partitionKey !== undefined) validatePartitionKey(partitionKey);
      return decodeEnvelope(envelopeBytes, DECODE_OPTIONS);
    } catch (err) {
      // A bad envelope concerns one message: answer it and keep the connection (even for codes that
      // close at the framing level, such as an unknown envelope version).
      const code =
        err instanceof ProtocolError && !closesConnection(err.code) ? err.code : ErrorCode.INVALID_ENVELOPE;
      this.output.sendError(conn, corr, code, (err as Error).message);
      return null;
    }
  }

  /** The bytes to append: the client's as they are, or re-encoded with a gateway-assigned id. */
  private assignId(env: Envelope, bytes: Buffer): Buffer {
    if (env.id.length > 0) return bytes;
    env.id = newMessageId();
    return encodeEnvelope(env);
  }

  private onPublish(conn: Connection, f: PublishFrame): void {
    if (conn.requestCorrs?.has(f.corr)) {
      this.output.sendError(
        conn,
        f.corr,
        ErrorCode.INVALID_ENVELOPE,
        `corr ${f.corr} is a pending REQUEST's`,
      );
      return;
    }
    if (this.refusedUnderPressure(conn, f.corr)) return;
    const env = this.decode(conn, f.corr, f.envelope, f.partitionKey);
    if (!env) return;
    const bytes = this.assignId(env, f.envelope);
    this.output.admit(conn);
    this.instruments.received(env.topic, bytes.length);
    const waiter =
      f.ackLevel === AckLevel.DURABLE
        ? this.waiters.addDurable(conn, f.corr, env.id, this.cfg.requests.max_timeout_ms)
        : null;
    this.append(conn, f.corr, waiter, env, bytes, f.partitionKey, '', waiter ? this.gatewayId : '');
  }

  private onRequest(conn: Connection, f: RequestFrame): void {
    if (f.corr === CONNECTION_CORR) {
      this.endWithError(conn, ErrorCode.MALFORMED_FRAME, CORR_ZERO);
      return;
    }
    if (this.refusedUnderPressure(conn, f.corr)) return;
    if (conn.requestCorrs?.has(f.corr)) {
      this.output.sendError(conn, f.corr, ErrorCode.INVALID_ENVELOPE, `corr ${f.corr} is already pending`);
      return;
    }
    const env = this.decode(conn, f.corr, f.envelope, f.partitionKey);
    if (!env) return;
    const correlationId = `${conn.id}:${f.corr}`;
    const bytes = this.assignId(env, f.envelope);
    this.output.admit(conn);
    this.instruments.received(env.topic, bytes.length);
    const rq = this.cfg.requests;
    const timeout = Math.min(f.timeoutMs || rq.default_timeout_ms, rq.max_timeout_ms);
    const waiter = this.waiters.addRequest(conn, f.corr, correlationId, timeout);
    const replyTo = formatReplyAddress({ gatewayId: this.gatewayId, correlationId });
    this.append(conn, f.corr, waiter, env, bytes, f.partitionKey, replyTo, '');
  }

  /** Queues one validated message for the next Redis batch of its shard. */
  private append(
    conn: Connection,
    corr: number,
    waiter: Waiter | null,
    env: Envelope,
    bytes: Buffer,
    partitionKey: string | undefined,
    replyTo: string,
    durable: string,
  ): void {
    const generated = env.traceparent ? '' : this.assignTraceparent(env.id);
    const entry: Entry = {
      conn,
      corr,
      waiter,
      trace: env.traceparent || (typeof generated === 'string' ? generated : ''),
      messageId: env.id,
      envelope: bytes,
      traceparent: generated,
      replyTo,
      durable,
      readAt: this.chunkReadAt,
    };
    logReceived(this.log, { topic: env.topic, size: bytes.length, id: env.id, traceparent: entry.trace });
    this.appender.enqueue(this.keys.shardOf(partitionKey || env.topic), entry);
  }

  /** Admission under Redis pressure: while it holds, the frame is answered OVERLOADED and never reaches Redis. */
  private refusedUnderPressure(conn: Connection, corr: number): boolean {
    if (!this.pressure.overloaded) return false;
    this.output.sendError(conn, corr, ErrorCode.OVERLOADED, 'redis under memory pressure: retry later');
    return true;
  }

  /**
   * The trace reference for a message that came without a traceparent. On the common path (no spans
   * recorded) a message whose id is a UUID is traced under its id: a 2-byte derived mark (@fleet/protocol
   * trace-ref.ts), no random bytes, no trace id carried. Only the id's shape is checked here (mayTraceById;
   * the persister checks the digits); with debug lines on, the whole id (the line shows the trace id).
   * Another id gets a generated one: without spans and debug lines, as flags the Redis command writer
   * turns into a fresh id in place (resp.ts).
   */
  private assignTraceparent(id: string): string | number {
    if (this.lazyTraceFlags !== null) {
      // levelVal > debug (20): a property read per message instead of isLevelEnabled's level lookup.
      const quiet = this.log.levelVal > 20;
      if (quiet ? mayTraceById(id) : isTraceableId(id)) return this.derivedMark;
      if (quiet) return this.lazyTraceFlags;
    }
    return this.newTraceparent();
  }

  // ------------------------------------------------------------------ Redis results (Appender)

  onAppended(batch: Entry[], streamId: string): void {
    if (this.tracer !== NOOP_TRACER) this.appendSpan(batch);
    this.pressure.noteAppended(batch);
    const output = this.output;
    const now = performance.now();
    let stream = 0;
    for (let i = 0; i < batch.length; i++) {
      const e = batch[i]!;
      const w = e.waiter;
      if (w === null) {
        stream++;
        this.instruments.ackLatency(now - e.readAt);
        output.answer(e.conn, encodeAck(e.corr, AckLevel.STREAM, e.messageId, streamId));
      } else {
        this.waiters.appended(w, streamId, e.messageId);
      }
    }
    output.acked += stream;
    this.instruments.framesOut(FrameType.ACK, stream);
    this.instruments.appendBatch(batch.length);
  }

  onFailed(batch: Entry[], err: Error): void {
    if (this.tracer !== NOOP_TRACER) this.appendSpan(batch, err.message);
    const msg = err.message;
    const code = appendErrorCode(msg);
    const text = code === ErrorCode.OVERLOADED ? 'redis is out of memory' : 'redis unavailable';
    this.logAppendFailure(msg, batch.length, code);
    for (const e of batch) {
      if (e.waiter) {
        if (e.waiter.done) continue; // already answered (deadline)
        this.waiters.forget(e.waiter);
      }
      this.output.answerError(e.conn, e.corr, code, text);
    }
  }

  /**
   * The cause of failed appends (CLUSTERDOWN, a lost connection, a timeout...) at error level, at most one
   * line per 5 s, with how many messages and batches failed since the previous line (this one included).
   */
  private logAppendFailure(msg: string, messages: number, code: number): void {
    this.appendFailedMessages += messages;
    this.appendFailedBatches++;
    if (this.appendErrors.take() < 0) return;
    this.log.error(
      {
        err: msg,
        cause: appendErrorCause(msg),
        failed_messages: this.appendFailedMessages,
        failed_batches: this.appendFailedBatches,
      },
      `redis append failed: answering ${code === ErrorCode.OVERLOADED ? 'OVERLOADED' : 'UNAVAILABLE'}`,
    );
    this.appendFailedMessages = 0;
    this.appendFailedBatches = 0;
  }

  /** One span per Redis batch, from its first frame read to Redis's answer, linked to each message's trace. */
  private appendSpan(batch: Entry[], error?: string): void {
    const traces = new Array<string>(Math.min(batch.length, MAX_SPAN_LINKS));
    for (let i = 0; i < traces.length; i++) traces[i] = batch[i]!.trace;
    const span = startBatchSpan(
      this.tracer,
      'append',
      traces,
      { 'fleet.batch.size': batch.length },
      batch[0]!.readAt,
    );
    if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    span.end();
  }
}
