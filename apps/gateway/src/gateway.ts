import { readFileSync } from 'node:fs';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createServer as createTlsServer } from 'node:tls';
import type { FleetConfig } from '@fleet/config';
import type { Registry } from '@fleet/metrics';
import {
  closesConnection,
  decodeDurableIds,
  decodeEnvelope,
  decodeReply,
  type Envelope,
  ErrorCode,
  encodeAck,
  encodeEnvelope,
  encodeError,
  encodeFrame,
  FleetKeys,
  type Frame,
  FrameDecoder,
  FrameType,
  formatReplyAddress,
  type InvalidFrame,
  newGatewayId,
  newMessageId,
  ProtocolError,
  type PublishFrame,
  type RequestFrame,
  validatePartitionKey,
} from '@fleet/protocol';
import {
  createLogger,
  generateTraceparent,
  type Logger,
  logReceived,
  NOOP_TRACER,
  parseTraceparent,
  startBatchSpan,
  type Telemetry,
} from '@fleet/tracing';
import type { Redis } from 'ioredis';
import { Appender, type PendingAppend } from './appender.js';
import { TokenAuth } from './auth.js';
import { Connection, type Waiter, WaitKind } from './connection.js';
import { type GatewayInstruments, NOOP_INSTRUMENTS } from './instruments.js';
import { prometheusInstruments } from './metrics.js';
import { gatewayPressure } from './pressure.js';
import { createCommandRedis, createSubscriberRedis, waitReady } from './redis.js';
import { TimerWheel } from './timer-wheel.js';

export interface GatewayOptions {
  logger?: Logger;
  /** Default: `gw-<host>-<pid>-<random>`. Must be unique per process (reply and durable channels). */
  gatewayId?: string;
  /** Prometheus registry (@fleet/metrics createRegistry) for the gateway's metrics; default none. */
  registry?: Registry;
  /** Or any other metrics sink (see instruments.ts). */
  instruments?: GatewayInstruments;
  /** On close(), how long pending requests / durable publishes may still complete. Default 2000 ms. */
  shutdownGraceMs?: number;
  /** Flushes in flight before new messages wait for a reply (group commit). Default 4. */
  maxOutstandingCalls?: number;
  /**
   * Trace ids for messages without one (`newTraceparent`: sampled flag from tracing.sampling_ratio) and
   * one `append` span per Redis batch linked to its messages' traces. Default: ids only, no spans.
   */
  telemetry?: Pick<Telemetry, 'tracer' | 'newTraceparent'>;
}

export interface GatewayStats {
  connections: number;
  /** Frames read and not yet answered, all connections (bounded by thread_pools.io.queue_size + one chunk per socket). */
  inFlight: number;
  peakInFlight: number;
  pausedConnections: number;
  /** Appends queued for the next flush / sent to Redis and unanswered. */
  queued: number;
  outstanding: number;
  pendingRequests: number;
  pendingDurable: number;
  acked: number;
  errors: number;
  redisReady: boolean;
  /** Bytes all connections hold in unfinished frames (bounded by gateway.max_partial_bytes). */
  partialBytes: number;
  peakPartialBytes: number;
  /** Connections closed because the process held too many bytes in unfinished frames. */
  partialShed: number;
}

export interface Gateway {
  readonly port: number;
  readonly gatewayId: string;
  stats(): GatewayStats;
  /** Applies the `live` fields of a new config (limits, timeouts, tokens). */
  reconfigure(cfg: FleetConfig): void;
  /** Graceful: stop accepting and reading, finish and answer what was read, close connections and Redis. */
  close(): Promise<void>;
}

/** One message on its way to Redis. */
interface Entry extends PendingAppend {
  conn: Connection;
  corr: number;
  waiter: Waiter | null;
  /** The message's traceparent (the envelope's or the gateway's): the append span links to it. */
  trace: string;
}

const EMPTY = Buffer.alloc(0);
const RESPONSE_OK = 0;
/** XADD replies slower than this count as Redis being unavailable. */
const COMMAND_TIMEOUT_MS = 3_000;
/** Granularity of REQUEST and durable-ACK deadlines (documented in docs/protocol.md section 8). */
export const TIMER_TICK_MS = 50;
/**
 * How often connection deadlines (idle, handshake, unfinished frame) are checked: one pass over the
 * connections, so no timer or syscall per frame (documented in docs/protocol.md section 6).
 */
export const SESSION_SWEEP_MS = 250;
/** After shedding, the partial-frame total is brought down to this fraction of the bound (hysteresis). */
const PARTIAL_SHED_TARGET = 0.75;
/** At most one log line per this interval about shed connections (a flood must not flood the log). */
const SHED_LOG_INTERVAL_MS = 10_000;
const DECODE_OPTIONS = { allowEmptyId: true } as const;
/** corr 0 means "about the connection" in answers, so a PUBLISH/REQUEST using it could not be answered. */
const CORR_ZERO = 'PUBLISH and REQUEST need a non-zero corr';
const DURABLE_NOTICE_LOST =
  'redis reconnected: the durable commit notice may have been missed; resend with the same id';

export async function startGateway(cfg: FleetConfig, opts: GatewayOptions = {}): Promise<Gateway> {
  const gw = new GatewayServer(cfg, opts);
  await gw.start();
  return gw;
}

class GatewayServer implements Gateway {
  readonly gatewayId: string;
  port = 0;
  private cfg: FleetConfig;
  private readonly log: Logger;
  private readonly keys: FleetKeys;
  private readonly redis: Redis;
  private readonly sub;
  private readonly appender: Appender<Entry>;
  private readonly wheel: TimerWheel<Waiter>;
  /** Redis memory / backlog pressure: PUBLISH and REQUEST are refused with OVERLOADED while it holds. */
  private readonly pressure;
  private readonly requests = new Map<string, Waiter>();
  private readonly durables = new Map<string, Waiter[]>();
  private readonly instruments: GatewayInstruments;
  private readonly tracer: Telemetry['tracer'];
  private readonly newTraceparent: () => string;
  /** Trace flags of the trace ids this gateway makes when it records no spans (null: it makes none). */
  private readonly lazyTraceFlags: number | null;
  private auth: TokenAuth;
  private server!: Server;
  private readonly conns = new Set<Connection>();
  private readonly paused = new Set<Connection>();
  private nextConnId = 1;
  private closing = false;
  private closed: Promise<void> | null = null;

  // Flow-control limits (live).
  private maxInFlight = 0;
  private connLow = 0;
  private queueSize = 0;
  private globalLow = 0;

  private inFlight = 0;
  private peakInFlight = 0;
  private chunkReadAt = 0;
  private acked = 0;
  private errors = 0;
  private partialBytes = 0;
  private peakPartialBytes = 0;
  private partialShed = 0;
  private shedLoggedAt = 0;
  private shedSinceLog = 0;
  private sessionTimer: NodeJS.Timeout | undefined;

  // Batched answers: connections with queued output, written once per microtask burst.
  private dirty: Connection[] = [];
  private writeScheduled = false;

  constructor(cfg: FleetConfig, opts: GatewayOptions) {
    this.cfg = cfg;
    this.gatewayId = opts.gatewayId ?? newGatewayId(hostname(), process.pid);
    this.log = (opts.logger ?? createLogger({ name: 'gateway', level: cfg.logging.level })).child({
      gateway_id: this.gatewayId,
    });
    this.instruments =
      opts.instruments ?? (opts.registry ? prometheusInstruments(opts.registry, cfg) : NOOP_INSTRUMENTS);
    this.tracer = opts.telemetry?.tracer ?? NOOP_TRACER;
    this.newTraceparent = opts.telemetry?.newTraceparent ?? generateTraceparent;
    // Without span recording, sampling decides nothing per message: the flags are the same for every id.
    const sample = this.tracer === NOOP_TRACER ? this.newTraceparent() : '';
    this.lazyTraceFlags = sample ? (parseTraceparent(sample)?.flags ?? null) : null;
    this.keys = new FleetKeys(cfg.redis.key_prefix, cfg.streams.shards);
    this.auth = new TokenAuth(cfg.auth.tokens);
    this.applyLimits(cfg);
    this.redis = createCommandRedis(cfg.redis.url, COMMAND_TIMEOUT_MS);
    this.sub = createSubscriberRedis(cfg.redis.url);
    this.appender = new Appender<Entry>(
      this.redis,
      this.keys,
      { onAppended: (b, id) => this.onAppended(b, id), onFailed: (b, err) => this.onAppendFailed(b, err) },
      opts.maxOutstandingCalls ?? 4,
    );
    this.wheel = new TimerWheel<Waiter>(TIMER_TICK_MS, (w) => this.onWaiterExpired(w));
    this.pressure = gatewayPressure(this.redis, this.keys, () => this.cfg, this.log, this.instruments);
    this.shutdownGraceMs = opts.shutdownGraceMs ?? 2_000;
  }
  private readonly shutdownGraceMs: number;

  private applyLimits(cfg: FleetConfig): void {
    this.maxInFlight = cfg.network.max_in_flight;
    this.connLow = Math.floor(this.maxInFlight / 2);
    this.queueSize = cfg.thread_pools.io.queue_size;
    this.globalLow = Math.floor(this.queueSize / 2);
  }

  reconfigure(cfg: FleetConfig): void {
    this.cfg = cfg;
    this.auth = new TokenAuth(cfg.auth.tokens);
    this.applyLimits(cfg);
    this.instruments.configure?.(cfg);
    this.resumeEligible();
  }

  async start(): Promise<void> {
    let redisErrors = 0;
    const onRedisError = (which: string) => (err: Error) => {
      // Reconnects are automatic; log the first error of an outage, not every retry.
      if (redisErrors++ === 0) this.log.warn({ err, connection: which }, 'redis connection error');
    };
    this.redis.on('error', onRedisError('command'));
    this.sub.on('error', onRedisError('subscriber'));
    this.redis.on('ready', () => {
      if (redisErrors > 0) this.log.info({ errors: redisErrors }, 'redis reconnected');
      redisErrors = 0;
    });
    this.sub.on('message', (channel: string, message: string) => this.onPubSub(channel, message));
    // Pub/sub is fire-and-forget: a durable commit notice published while the subscriber was away is gone,
    // and its PUBLISH would wait out requests.max_timeout_ms. Once subscribed again, the durable PUBLISHes
    // that were waiting are answered UNAVAILABLE at once; the client resends with the same id, and the
    // persister notifies again for an id it already stored.
    let subLost = false;
    this.sub.on('close', () => {
      subLost = true;
    });
    this.sub.on('ready', () => {
      if (!subLost || this.closing) return;
      subLost = false;
      const waiting = [...this.durables.values()].flat().filter((w) => !w.committed);
      this.sub
        .subscribe(this.keys.replyChannel(this.gatewayId), this.keys.durableChannel(this.gatewayId))
        .then(() => this.failDurables(waiting))
        .catch((err: unknown) => this.log.warn({ err }, 'resubscribe failed'));
    });
    this.redis.connect().catch(() => {});
    this.sub.connect().catch(() => {});
    await Promise.all([waitReady(this.redis, 5_000), waitReady(this.sub, 5_000)]);
    await this.pressure.start();
    try {
      await this.sub.subscribe(
        this.keys.replyChannel(this.gatewayId),
        this.keys.durableChannel(this.gatewayId),
      );
    } catch (err) {
      // Not connected yet: autoResubscribe does not cover a SUBSCRIBE that never ran, so retry on ready.
      this.log.warn({ err }, 'subscribe failed; retrying when redis is ready');
      this.sub.once('ready', () => {
        this.sub
          .subscribe(this.keys.replyChannel(this.gatewayId), this.keys.durableChannel(this.gatewayId))
          .catch((e: unknown) => this.log.error({ err: e }, 'subscribe failed'));
      });
    }

    const net = this.cfg.network;
    const tls = this.cfg.tls;
    if (tls.enabled) {
      this.server = createTlsServer(
        {
          // The TLS handshake comes before HELLO: it gets the same deadline (read at start).
          ...(this.cfg.gateway.handshake_timeout_ms > 0
            ? { handshakeTimeout: this.cfg.gateway.handshake_timeout_ms }
            : {}),
          cert: readFileSync(tls.cert_path as string),
          key: readFileSync(tls.key_path as string),
          ...(tls.ca_path
            ? { ca: readFileSync(tls.ca_path), requestCert: true, rejectUnauthorized: true }
            : {}),
        },
        (socket) => this.onSocket(socket),
      );
      this.server.on('tlsClientError', (err) => this.log.debug({ err: err.message }, 'tls handshake failed'));
    } else {
      this.server = createNetServer({ noDelay: true }, (socket) => this.onSocket(socket));
    }
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(net.port, net.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.server.on('error', (err) => this.log.error({ err }, 'server error'));
    const addr = this.server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : net.port;
    this.metricsTimer = setInterval(() => this.pushMetrics(), 1_000);
    this.metricsTimer.unref();
    this.sessionTimer = setInterval(() => this.sweepSessions(performance.now()), SESSION_SWEEP_MS);
    this.sessionTimer.unref();
  }

  private metricsTimer: NodeJS.Timeout | undefined;
  private pushMetrics(): void {
    this.instruments.sample(this.inFlight, this.paused.size, this.conns.size);
    this.instruments.flush();
  }

  stats(): GatewayStats {
    return {
      connections: this.conns.size,
      inFlight: this.inFlight,
      peakInFlight: this.peakInFlight,
      pausedConnections: this.paused.size,
      queued: this.appender.queued,
      outstanding: this.appender.outstanding,
      pendingRequests: this.requests.size,
      pendingDurable: this.durables.size,
      acked: this.acked,
      errors: this.errors,
      redisReady: this.redis.status === 'ready',
      partialBytes: this.partialBytes,
      peakPartialBytes: this.peakPartialBytes,
      partialShed: this.partialShed,
    };
  }

  // ------------------------------------------------------------------ connections

  private onSocket(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    socket.on('error', () => {}); // resets are normal; 'close' cleans up
    if (this.conns.size >= this.cfg.network.max_connections) {
      this.countError(ErrorCode.OVERLOADED);
      socket.end(encodeError(0, ErrorCode.OVERLOADED, 'too many connections'));
      setTimeout(() => socket.destroy(), 1_000).unref();
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
    socket.on('drain', () => this.resumeEligible());
    socket.on('close', () => this.onClose(conn));
  }

  /**
   * Connection deadlines, all measured in progress rather than bytes (a client trickling bytes does not
   * reset them): HELLO within handshake_timeout_ms of accept; an unfinished frame complete within
   * frame_timeout_ms of its first bytes; idle = no complete frame for network.timeout_ms with nothing in
   * flight. Each closes with ERROR TIMEOUT (corr 0).
   */
  private sweepSessions(now: number): void {
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
    this.paused.delete(conn);
    this.releasePartial(conn);
    this.inFlight -= conn.inFlight;
    conn.inFlight = 0;
    if (conn.waiters) {
      for (const w of conn.waiters) this.forgetWaiter(w);
      conn.waiters = null;
    }
    conn.out = [];
    this.instruments.connectionClosed();
    this.resumeEligible();
  }

  /**
   * Sends a connection-level ERROR (corr 0 unless given) and closes the connection after it. Input stops
   * here; frames read before it and still unanswered are answered first (each PUBLISH/REQUEST gets exactly
   * one answer), then this ERROR goes out after the last of them.
   */
  private endWithError(conn: Connection, code: number, message: string, corr = 0): void {
    if (conn.ending || conn.closed) return;
    conn.ending = true;
    this.releasePartial(conn);
    if (conn.inFlight > 0) {
      conn.fatal = { corr, code, message };
      // Stop reading meanwhile (the kernel buffers, not us); resumeEligible skips ending connections.
      conn.socket.pause();
      return;
    }
    this.sendClosingError(conn, code, message, corr);
  }

  private sendClosingError(conn: Connection, code: number, message: string, corr: number): void {
    this.countError(code);
    conn.out.push(encodeError(corr, code, message));
    this.writeOut(conn);
    conn.socket.end();
    setTimeout(() => conn.socket.destroy(), 2_000).unref();
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
        else if (f.corr === 0) this.endWithError(conn, ErrorCode.MALFORMED_FRAME, CORR_ZERO);
        else this.onPublish(conn, f);
      } else {
        this.onOtherFrame(conn, f);
      }
      if (conn.ending) return;
    }
    this.trackPartial(conn, frames.length > 0, this.chunkReadAt);
    if (conn.ending) return; // shed: the process held too many bytes of unfinished frames
    if (
      !conn.paused &&
      (conn.inFlight >= this.maxInFlight || this.inFlight >= this.queueSize || conn.socket.writableNeedDrain)
    ) {
      conn.paused = true;
      conn.socket.pause();
      this.paused.add(conn);
    }
  }

  private onOtherFrame(conn: Connection, f: Frame | InvalidFrame): void {
    if (!conn.hello) {
      if (f.type === FrameType.HELLO) this.onHello(conn, f);
      else if (f.type === 0) this.endWithError(conn, f.code, f.message, f.corr);
      else this.endWithError(conn, ErrorCode.HELLO_REQUIRED, 'send HELLO first');
      return;
    }
    switch (f.type) {
      case 0:
        if (closesConnection(f.code)) this.endWithError(conn, f.code, f.message, f.corr);
        else this.sendError(conn, f.corr, f.code, f.message);
        return;
      case FrameType.REQUEST:
        this.onRequest(conn, f);
        return;
      case FrameType.PING:
        this.instruments.framesOut(FrameType.PONG, 1);
        this.queueWrite(conn, encodeFrame({ type: FrameType.PONG, corr: f.corr }));
        return;
      case FrameType.PONG:
        // Either side may send PONG (a keepalive a client may send unasked): it needs no answer.
        return;
      case FrameType.HELLO:
        this.sendError(conn, f.corr, ErrorCode.NOT_SUPPORTED, 'HELLO already received');
        return;
      default:
        this.sendError(conn, f.corr, ErrorCode.NOT_SUPPORTED, `frame type ${f.type} is not sent by clients`);
    }
  }

  private onHello(conn: Connection, f: Extract<Frame, { type: 1 }>): void {
    const denied = this.auth.check(f.token);
    if (denied !== null) {
      this.log.info({ client: f.clientName.slice(0, 64), code: denied }, 'authentication refused');
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
    this.queueWrite(
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
      this.sendError(conn, corr, code, (err as Error).message);
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
      this.sendError(conn, f.corr, ErrorCode.INVALID_ENVELOPE, `corr ${f.corr} is a pending REQUEST's`);
      return;
    }
    if (this.refusedUnderPressure(conn, f.corr)) return;
    const env = this.decode(conn, f.corr, f.envelope, f.partitionKey);
    if (!env) return;
    const bytes = this.assignId(env, f.envelope);
    this.admit(conn);
    this.instruments.received(env.topic, bytes.length);
    let waiter: Waiter | null = null;
    if (f.ackLevel === 1) {
      waiter = this.addWaiter(conn, f.corr, WaitKind.DURABLE, env.id, this.cfg.requests.max_timeout_ms);
      let list = this.durables.get(env.id);
      if (!list) {
        list = [];
        this.durables.set(env.id, list);
      }
      list.push(waiter);
    }
    this.append(conn, f.corr, waiter, env, bytes, f.partitionKey, '', waiter ? this.gatewayId : '');
  }

  private onRequest(conn: Connection, f: RequestFrame): void {
    if (f.corr === 0) {
      this.endWithError(conn, ErrorCode.MALFORMED_FRAME, CORR_ZERO);
      return;
    }
    if (this.refusedUnderPressure(conn, f.corr)) return;
    if (conn.requestCorrs?.has(f.corr)) {
      this.sendError(conn, f.corr, ErrorCode.INVALID_ENVELOPE, `corr ${f.corr} is already pending`);
      return;
    }
    const env = this.decode(conn, f.corr, f.envelope, f.partitionKey);
    if (!env) return;
    const correlationId = `${conn.id}:${f.corr}`;
    const bytes = this.assignId(env, f.envelope);
    this.admit(conn);
    this.instruments.received(env.topic, bytes.length);
    const rq = this.cfg.requests;
    const timeout = Math.min(f.timeoutMs || rq.default_timeout_ms, rq.max_timeout_ms);
    const waiter = this.addWaiter(conn, f.corr, WaitKind.REQUEST, correlationId, timeout);
    this.requests.set(correlationId, waiter);
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
    const generated = env.traceparent ? '' : this.assignTraceparent();
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
    this.sendError(conn, corr, ErrorCode.OVERLOADED, 'redis under memory pressure: retry later');
    return true;
  }

  /** Counts a frame that will get exactly one answer later. */
  private admit(conn: Connection): void {
    conn.inFlight++;
    if (++this.inFlight > this.peakInFlight) this.peakInFlight = this.inFlight;
  }

  private addWaiter(
    conn: Connection,
    corr: number,
    kind: Waiter['kind'],
    key: string,
    timeoutMs: number,
  ): Waiter {
    const w: Waiter = { conn, corr, kind, key, streamId: null, committed: false, done: false };
    this.wheel.add(w, Date.now() + timeoutMs);
    if (!conn.waiters) conn.waiters = new Set();
    conn.waiters.add(w);
    if (kind === WaitKind.REQUEST) {
      if (!conn.requestCorrs) conn.requestCorrs = new Set();
      conn.requestCorrs.add(corr);
    }
    return w;
  }

  /** Removes a waiter from every index (answered, expired, failed or its connection closed). */
  private forgetWaiter(w: Waiter): void {
    w.done = true;
    this.wheel.delete(w);
    w.conn.waiters?.delete(w);
    if (w.kind === WaitKind.REQUEST) {
      if (this.requests.get(w.key) === w) this.requests.delete(w.key);
      w.conn.requestCorrs?.delete(w.corr);
    } else {
      const list = this.durables.get(w.key);
      if (list) {
        const i = list.indexOf(w);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0) this.durables.delete(w.key);
      }
    }
  }

  // ------------------------------------------------------------------ Redis results

  private onAppended(batch: Entry[], streamId: string): void {
    if (this.tracer !== NOOP_TRACER) this.appendSpan(batch);
    this.pressure.noteAppended(batch);
    const now = performance.now();
    let stream = 0;
    for (let i = 0; i < batch.length; i++) {
      const e = batch[i]!;
      const w = e.waiter;
      if (w === null) {
        stream++;
        this.instruments.ackLatency(now - e.readAt);
        this.answer(e.conn, encodeAck(e.corr, 0, e.messageId, streamId));
      } else if (w.kind === WaitKind.DURABLE && !w.done) {
        w.streamId = streamId;
        if (w.committed) this.ackDurable(w, e.messageId);
      }
      // Requests wait for their reply.
    }
    this.acked += stream;
    this.instruments.framesOut(FrameType.ACK, stream);
    this.instruments.appendBatch(batch.length);
  }

  /**
   * The traceparent for a message that came without one. On the common path (no spans recorded, no debug
   * log line to carry it) the id is not made here: the flags are handed on and the Redis command writer
   * writes a fresh id straight into the stream entry (resp.ts), which is most of a trace id's cost saved.
   */
  private assignTraceparent(): string | number {
    if (this.lazyTraceFlags !== null && !this.log.isLevelEnabled('debug')) return this.lazyTraceFlags;
    return this.newTraceparent();
  }

  /** One span per Redis batch, from its first frame read to Redis's answer, linked to each message's trace. */
  private appendSpan(batch: Entry[], error?: string): void {
    const traces = new Array<string>(Math.min(batch.length, 128));
    for (let i = 0; i < traces.length; i++) traces[i] = batch[i]!.trace;
    const span = startBatchSpan(
      this.tracer,
      'append',
      traces,
      { 'fleet.batch.size': batch.length },
      batch[0]!.readAt,
    );
    if (error !== undefined) span.setStatus({ code: 2, message: error });
    span.end();
  }

  private onAppendFailed(batch: Entry[], err: Error): void {
    if (this.tracer !== NOOP_TRACER) this.appendSpan(batch, err.message);
    const msg = err.message;
    const code = /OOM/.test(msg) ? ErrorCode.OVERLOADED : ErrorCode.UNAVAILABLE;
    const text = code === ErrorCode.OVERLOADED ? 'redis is out of memory' : 'redis unavailable';
    this.log.debug({ err: msg, count: batch.length }, 'append failed');
    for (const e of batch) {
      if (e.waiter) {
        if (e.waiter.done) continue; // already answered (deadline)
        this.forgetWaiter(e.waiter);
      }
      this.answerError(e.conn, e.corr, code, text);
    }
  }

  private ackDurable(w: Waiter, messageId: string): void {
    this.forgetWaiter(w);
    this.acked++;
    this.instruments.framesOut(FrameType.ACK, 1);
    this.answer(w.conn, encodeAck(w.corr, 1, messageId, w.streamId as string));
  }

  private onPubSub(channel: string, message: string): void {
    if (channel === this.keys.replyChannel(this.gatewayId)) {
      const r = decodeReply(message);
      if (!r) return;
      const w = this.requests.get(r.correlationId);
      if (!w) return; // expired or its connection closed
      this.forgetWaiter(w);
      const frame: Extract<Frame, { type: 7 }> = {
        type: FrameType.RESPONSE,
        corr: w.corr,
        status: r.ok ? RESPONSE_OK : ErrorCode.HANDLER_ERROR,
        payload: r.payload
          ? Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength)
          : EMPTY,
      };
      if (r.error) frame.error = r.error;
      if (r.traceparent) frame.traceparent = r.traceparent;
      this.instruments.framesOut(FrameType.RESPONSE, 1);
      this.answer(w.conn, encodeFrame(frame));
    } else if (channel === this.keys.durableChannel(this.gatewayId)) {
      for (const id of decodeDurableIds(message)) {
        const list = this.durables.get(id);
        if (!list) continue;
        for (const w of [...list]) {
          if (w.streamId !== null) this.ackDurable(w, id);
          else w.committed = true;
        }
      }
    }
  }

  /** Durable PUBLISHes whose commit notice may have been lost (the subscriber reconnected): resend. */
  private failDurables(waiters: Waiter[]): void {
    let failed = 0;
    for (const w of waiters) {
      if (w.done) continue;
      this.forgetWaiter(w);
      this.answerError(w.conn, w.corr, ErrorCode.UNAVAILABLE, DURABLE_NOTICE_LOST);
      failed++;
    }
    if (failed > 0)
      this.log.warn({ failed }, 'redis reconnected: waiting durable publishes answered unavailable');
  }

  private onWaiterExpired(w: Waiter): void {
    this.forgetWaiter(w);
    // A request whose XADD is still outstanding is answered here; the later XADD reply then finds no waiter.
    this.answerError(
      w.conn,
      w.corr,
      ErrorCode.TIMEOUT,
      w.kind === WaitKind.REQUEST
        ? 'no response before the deadline'
        : 'no durable commit before the deadline',
    );
  }

  // ------------------------------------------------------------------ output

  /** Answers a counted frame (ACK, RESPONSE, ERROR): frees its window slot. */
  private answer(conn: Connection, frame: Buffer): void {
    if (conn.closed) return;
    conn.inFlight--;
    this.inFlight--;
    this.queueWrite(conn, frame);
    // The last answer before a deferred closing ERROR: it goes out after this one, then the close.
    const fatal = conn.fatal;
    if (fatal !== null && conn.inFlight === 0) {
      conn.fatal = null;
      this.sendClosingError(conn, fatal.code, fatal.message, fatal.corr);
    }
  }

  private answerError(conn: Connection, corr: number, code: number, message: string): void {
    this.countError(code);
    this.answer(conn, encodeError(corr, code, message));
  }

  /** ERROR for a frame that was never counted in flight. */
  private sendError(conn: Connection, corr: number, code: number, message: string): void {
    this.countError(code);
    this.queueWrite(conn, encodeError(corr, code, message));
  }

  private countError(code: number): void {
    this.errors++;
    this.instruments.error(code);
    this.instruments.framesOut(FrameType.ERROR, 1);
  }

  private queueWrite(conn: Connection, frame: Buffer): void {
    if (conn.closed) return;
    conn.out.push(frame);
    if (!conn.outQueued) {
      conn.outQueued = true;
      this.dirty.push(conn);
    }
    if (!this.writeScheduled) {
      this.writeScheduled = true;
      queueMicrotask(this.flushWrites);
    }
  }

  /** One write per connection for everything answered in this burst, then reopen paused sockets. */
  private readonly flushWrites = (): void => {
    this.writeScheduled = false;
    const dirty = this.dirty;
    this.dirty = [];
    for (let i = 0; i < dirty.length; i++) {
      const conn = dirty[i]!;
      conn.outQueued = false;
      this.writeOut(conn);
    }
    this.resumeEligible();
  };

  private writeOut(conn: Connection): void {
    const out = conn.out;
    if (out.length === 0 || conn.closed || !conn.socket.writable) return;
    conn.out = [];
    const buf = out.length === 1 ? out[0]! : Buffer.concat(out);
    this.instruments.bytesOut(buf.length);
    conn.socket.write(buf);
  }

  /** Resumes paused sockets once both their window and the process-wide bound are below the low-water marks. */
  private resumeEligible(): void {
    if (this.paused.size === 0 || this.closing || this.inFlight > this.globalLow) return;
    const now = performance.now();
    for (const conn of this.paused) {
      if (conn.ending) {
        this.paused.delete(conn);
      } else if (conn.inFlight <= this.connLow && !conn.socket.writableNeedDrain) {
        conn.paused = false;
        this.paused.delete(conn);
        // Paused by us: the client's deadlines restart now (it could not make progress meanwhile).
        conn.lastFrameAt = now;
        if (conn.partialSince !== 0) conn.partialSince = now;
        conn.socket.resume();
      }
    }
  }

  // ------------------------------------------------------------------ shutdown

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const conn of this.conns) conn.socket.pause();
    // Everything already read goes to Redis and is answered.
    this.appender.flush(true);
    await this.appender.idle();
    // Requests and durable publishes get a short grace, then SHUTTING_DOWN.
    const graceEnd = Date.now() + this.shutdownGraceMs;
    while (this.wheel.size > 0 && Date.now() < graceEnd) await sleep(20);
    for (const w of this.wheel.drain()) {
      this.forgetWaiter(w);
      this.answerError(w.conn, w.corr, ErrorCode.SHUTTING_DOWN, 'gateway shutting down');
    }
    this.flushWrites();
    const socketsClosed = [...this.conns].map(
      (conn) => new Promise<void>((resolve) => conn.socket.once('close', () => resolve())),
    );
    for (const conn of this.conns) this.endWithError(conn, ErrorCode.SHUTTING_DOWN, 'gateway shutting down');
    await Promise.race([Promise.all(socketsClosed), sleep(3_000)]);
    for (const conn of this.conns) conn.socket.destroy();
    await serverClosed;
    await this.pressure.stop();
    await Promise.allSettled([quit(this.redis), quit(this.sub)]);
    clearInterval(this.metricsTimer);
    clearInterval(this.sessionTimer);
    this.pushMetrics();
    this.log.info({ acked: this.acked }, 'gateway closed');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function quit(redis: { quit(): Promise<unknown>; disconnect(): void; status: string }): Promise<void> {
  if (redis.status === 'ready') {
    await Promise.race([redis.quit().catch(() => {}), sleep(1_000)]);
  }
  redis.disconnect();
}
