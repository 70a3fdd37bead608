import { readFileSync } from 'node:fs';
import { createServer as createNetServer, type Server } from 'node:net';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createServer as createTlsServer } from 'node:tls';
import type { FleetConfig } from '@fleet/config';
import type { Registry } from '@fleet/metrics';
import { ErrorCode, FleetKeys, newGatewayId } from '@fleet/protocol';
import { createRedis, type FleetRedis } from '@fleet/redis';
import { createLogger, type Logger, type Telemetry } from '@fleet/tracing';
import { DEFAULT_MAX_OUTSTANDING_CALLS } from './appender.js';
import { type GatewayInstruments, NOOP_INSTRUMENTS } from './instruments.js';
import { prometheusInstruments } from './metrics.js';
import { Output } from './output.js';
import { gatewayPressure } from './pressure.js';
import { waitReady } from './redis.js';
import { Sessions } from './session.js';
import { Waiters } from './waiters.js';

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

/** XADD replies slower than this count as Redis being unavailable. */
const COMMAND_TIMEOUT_MS = 3_000;
/** How long start() waits for Redis before serving anyway (answering UNAVAILABLE until it is there). */
const REDIS_READY_WAIT_MS = 5_000;
/** On close(), how long pending requests / durable publishes may still complete, by default. */
const DEFAULT_SHUTDOWN_GRACE_MS = 2_000;
/** How often the shutdown grace checks whether every request and durable publish was answered. */
const GRACE_POLL_MS = 20;
/** Shutdown waits this long for clients to close after their SHUTTING_DOWN, then destroys the sockets. */
const SOCKETS_CLOSE_WAIT_MS = 3_000;
/** A Redis QUIT gets this long before the connection is dropped. */
const QUIT_WAIT_MS = 1_000;
/** Metrics are counted in plain numbers and pushed to the sink this often. */
const METRICS_PUSH_MS = 1_000;
/**
 * How often connection deadlines (idle, handshake, unfinished frame) are checked: one pass over the
 * connections, so no timer or syscall per frame (documented in docs/protocol.md section 6).
 */
export const SESSION_SWEEP_MS = 250;

export async function startGateway(cfg: FleetConfig, opts: GatewayOptions = {}): Promise<Gateway> {
  const gw = new GatewayServer(cfg, opts);
  await gw.start();
  return gw;
}

/**
 * The gateway process's server: listens (TCP or TLS), owns the Redis connections and the timers, reports
 * stats and metrics, applies live config and shuts down gracefully. The work is in three parts:
 * Sessions (session.ts: input, per connection), Waiters (waiters.ts: requests and durable ACKs) and
 * Output (output.ts: answers and flow control).
 */
class GatewayServer implements Gateway {
  readonly gatewayId: string;
  port = 0;
  private cfg: FleetConfig;
  private readonly log: Logger;
  private readonly redis: FleetRedis;
  private readonly sub: FleetRedis;
  private readonly pressure;
  private readonly instruments: GatewayInstruments;
  private readonly output: Output;
  private readonly waiters: Waiters;
  private readonly sessions: Sessions;
  private readonly shutdownGraceMs: number;
  private server!: Server;
  private closing = false;
  private closed: Promise<void> | null = null;
  private metricsTimer: NodeJS.Timeout | undefined;
  private sessionTimer: NodeJS.Timeout | undefined;

  constructor(cfg: FleetConfig, opts: GatewayOptions) {
    this.cfg = cfg;
    this.gatewayId = opts.gatewayId ?? newGatewayId(hostname(), process.pid);
    this.log = (opts.logger ?? createLogger({ name: 'gateway', level: cfg.logging.level })).child({
      gateway_id: this.gatewayId,
    });
    this.instruments =
      opts.instruments ?? (opts.registry ? prometheusInstruments(opts.registry, cfg) : NOOP_INSTRUMENTS);
    const keys = new FleetKeys(cfg.redis.key_prefix, cfg.streams.shards);
    // Fail fast on the hot path (no offline queue, no resend); pub/sub resubscribes by itself (SSUBSCRIBE
    // on a cluster). Both in the configured redis.mode.
    this.redis = createRedis(cfg.redis, 'command', { commandTimeoutMs: COMMAND_TIMEOUT_MS });
    this.sub = createRedis(cfg.redis, 'subscriber');
    this.pressure = gatewayPressure(this.redis, keys, () => this.cfg, this.log, this.instruments);
    this.output = new Output(cfg, this.instruments);
    this.waiters = new Waiters(keys, this.gatewayId, this.sub, this.output, this.instruments, this.log);
    this.sessions = new Sessions(cfg, {
      gatewayId: this.gatewayId,
      keys,
      redis: this.redis,
      output: this.output,
      waiters: this.waiters,
      pressure: this.pressure,
      instruments: this.instruments,
      log: this.log,
      telemetry: opts.telemetry,
      maxOutstandingCalls: opts.maxOutstandingCalls ?? DEFAULT_MAX_OUTSTANDING_CALLS,
    });
    this.shutdownGraceMs = opts.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
  }

  reconfigure(cfg: FleetConfig): void {
    this.cfg = cfg;
    this.sessions.reconfigure(cfg);
    this.output.reconfigure(cfg);
    this.instruments.configure?.(cfg);
    this.output.resumeEligible();
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
    this.waiters.listen(() => this.closing);
    this.redis.connect().catch(() => {});
    this.sub.connect().catch(() => {});
    await Promise.all([waitReady(this.redis, REDIS_READY_WAIT_MS), waitReady(this.sub, REDIS_READY_WAIT_MS)]);
    await this.pressure.start();
    await this.waiters.subscribe();

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
        (socket) => this.sessions.accept(socket),
      );
      this.server.on('tlsClientError', (err) => this.log.debug({ err: err.message }, 'tls handshake failed'));
    } else {
      this.server = createNetServer({ noDelay: true }, (socket) => this.sessions.accept(socket));
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
    this.metricsTimer = setInterval(() => this.pushMetrics(), METRICS_PUSH_MS);
    this.metricsTimer.unref();
    this.sessionTimer = setInterval(() => this.sessions.sweep(performance.now()), SESSION_SWEEP_MS);
    this.sessionTimer.unref();
  }

  private pushMetrics(): void {
    this.instruments.sample(this.output.inFlight, this.output.paused.size, this.sessions.conns.size);
    this.instruments.flush();
  }

  stats(): GatewayStats {
    const { output, sessions, waiters } = this;
    return {
      connections: sessions.conns.size,
      inFlight: output.inFlight,
      peakInFlight: output.peakInFlight,
      pausedConnections: output.paused.size,
      queued: sessions.appender.queued,
      outstanding: sessions.appender.outstanding,
      pendingRequests: waiters.pendingRequests,
      pendingDurable: waiters.pendingDurable,
      acked: output.acked,
      errors: output.errors,
      redisReady: this.redis.status === 'ready',
      partialBytes: sessions.partialBytes,
      peakPartialBytes: sessions.peakPartialBytes,
      partialShed: sessions.partialShed,
    };
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    this.output.closing = true;
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.sessions.stop();
    // Everything already read goes to Redis and is answered.
    const appender = this.sessions.appender;
    appender.flush(true);
    await appender.idle();
    // Requests and durable publishes get a short grace, then SHUTTING_DOWN.
    const graceEnd = Date.now() + this.shutdownGraceMs;
    while (this.waiters.size > 0 && Date.now() < graceEnd) await sleep(GRACE_POLL_MS);
    this.waiters.failAll(ErrorCode.SHUTTING_DOWN, 'gateway shutting down');
    this.output.flushWrites();
    const conns = this.sessions.conns;
    const socketsClosed = [...conns].map(
      (conn) => new Promise<void>((resolve) => conn.socket.once('close', () => resolve())),
    );
    for (const conn of conns)
      this.sessions.endWithError(conn, ErrorCode.SHUTTING_DOWN, 'gateway shutting down');
    await Promise.race([Promise.all(socketsClosed), sleep(SOCKETS_CLOSE_WAIT_MS)]);
    for (const conn of conns) conn.socket.destroy();
    await serverClosed;
    await this.pressure.stop();
    await Promise.allSettled([quit(this.redis), quit(this.sub)]);
    clearInterval(this.metricsTimer);
    clearInterval(this.sessionTimer);
    this.pushMetrics();
    this.log.info({ acked: this.output.acked }, 'gateway closed');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function quit(redis: { quit(): Promise<unknown>; disconnect(): void; status: string }): Promise<void> {
  if (redis.status === 'ready') {
    await Promise.race([redis.quit().catch(() => {}), sleep(QUIT_WAIT_MS)]);
  }
  redis.disconnect();
}
