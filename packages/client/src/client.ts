import { EventEmitter } from 'node:events';
import type net from 'node:net';
import type tls from 'node:tls';
import {
  AckLevel,
  closesConnection,
  type Envelope,
  ErrorCode,
  encodeEnvelope,
  encodeFrame,
  encodePublish,
  encodeRequest,
  type Frame,
  FrameDecoder,
  FrameType,
  type InvalidFrame,
  type MessageType,
  newMessageId,
  validateEnvelope,
  validatePartitionKey,
  type WelcomeFrame,
} from '@fleet/protocol';
import { dial } from './dial.js';
import { FATAL_HANDSHAKE_CODES, FleetError } from './errors.js';
import { type PayloadInput, toPayloadBytes } from './payload.js';

export interface ReconnectOptions {
  /** Attempts after a lost connection (and for the first connect) before giving up. */
  retries: number;
  minDelayMs: number;
  maxDelayMs: number;
}

/**
 * Retrying publishes the gateway answers UNAVAILABLE (Redis down) or OVERLOADED (Redis out of memory): both
 * transient, and a PUBLISH answered by ERROR was not stored, so it is sent again (same bytes, so the same
 * message id: stored once downstream) after an exponential backoff with jitter, until `deliveryTimeoutMs`
 * after publish() was called (like a Kafka producer's delivery.timeout.ms); then the last error is returned.
 */
export interface PublishRetryOptions {
  /** Per-publish deadline, ms from the publish() call, for retries (not a bound on one attempt). */
  deliveryTimeoutMs: number;
  /** Backoff before the first retry (jittered: half to all of it), doubling per retry ... */
  minDelayMs: number;
  /** ... up to this. */
  maxDelayMs: number;
}

export interface ConnectOptions {
  host: string;
  port: number;
  /** true = TLS with default options (servername = host); an object = node:tls options (ca, cert, ...). */
  tls?: boolean | tls.ConnectionOptions;
  token?: string;
  clientName?: string;
  /** Max unanswered frames; the effective window is min(window, the gateway's WELCOME max_in_flight). */
  window?: number;
  /** Backoff policy; false = never reconnect. */
  reconnect?: ReconnectOptions | false;
  /** Retries of publishes answered UNAVAILABLE / OVERLOADED; false = hand those errors back at once. */
  publishRetry?: PublishRetryOptions | false;
  /** Default deadline of request(). */
  requestTimeoutMs?: number;
  /** Deadline of one TCP/TLS connect + HELLO/WELCOME. */
  connectTimeoutMs?: number;
  /** Largest incoming frame accepted (RESPONSE payloads). */
  maxIncomingFrameBytes?: number;
}

export interface PublishOptions {
  ack?: 'stream' | 'durable';
  /** Idempotency key; generated (UUIDv7 layout) when absent. */
  id?: string;
  type?: MessageType;
  priority?: number;
  headers?: Record<string, string>;
  traceparent?: string;
  partitionKey?: string;
  ttl?: number;
  source?: string;
  target?: string;
  correlationId?: string;
}

export interface PublishResult {
  id: string;
  /** The Redis stream entry id the gateway appended. */
  streamId: string;
}

export interface PublishInput extends PublishOptions {
  topic: string;
  payload: PayloadInput;
}

export interface RequestOptions extends Omit<PublishOptions, 'ack'> {
  timeoutMs?: number;
}

export interface RequestResult {
  payload: Buffer;
  json<T = unknown>(): T;
  traceparent?: string;
}

export const DEFAULT_WINDOW = 1000;
export const DEFAULT_RECONNECT: ReconnectOptions = { retries: 10, minDelayMs: 100, maxDelayMs: 5000 };
export const DEFAULT_PUBLISH_RETRY: PublishRetryOptions = {
  deliveryTimeoutMs: 30_000,
  minDelayMs: 50,
  maxDelayMs: 2_000,
};
/** Transient refusals of a PUBLISH (docs/protocol.md section 7): retried with the same id. */
const RETRYABLE_CODES: ReadonlySet<number> = new Set([ErrorCode.UNAVAILABLE, ErrorCode.OVERLOADED]);
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_INCOMING = 64 * 1024 * 1024;
/** How long a locally timed-out request keeps its window slot waiting for the gateway's own answer. */
const ZOMBIE_GRACE_MS = 5_000;

const KIND_PUBLISH = 0;
const KIND_REQUEST = 1;

/** One frame the client owes an answer for: queued, in flight, or (done) timed out locally. */
interface Pending {
  corr: number;
  kind: typeof KIND_PUBLISH | typeof KIND_REQUEST;
  id: string;
  frame: Buffer;
  resolve: (value: never) => void;
  reject: (e: FleetError) => void;
  timer?: NodeJS.Timeout;
  /** Settled already (request timed out); still holds its slot while in flight. */
  done: boolean;
  /** Publishes: when retries stop (ms epoch; 0 = no retries). */
  deadline: number;
  /** Publishes: retries made so far. */
  retries: number;
}

/** A publish retry, as the 'retry' event reports it. */
export interface RetryEvent {
  id: string;
  /** The code that caused it (UNAVAILABLE or OVERLOADED). */
  code: number;
  /** 1 for the first retry of this publish. */
  attempt: number;
  delayMs: number;
}

type State = 'connecting' | 'open' | 'reconnecting' | 'closed';

/**
 * A pipelining Fleet client over one TCP/TLS connection. Events: 'disconnect' (err), 'reconnect' (welcome),
 * 'closed' (err?). Publishes that were not ACKed when a connection drops are re-sent byte for byte (same
 * message ids) after the reconnect, so the fleet's idempotency on the id prevents duplicates.
 */
export class FleetClient extends EventEmitter {
  private state: State = 'connecting';
  private socket: net.Socket | null = null;
  private welcomeFrame: WelcomeFrame | null = null;
  private windowSize = 0;
  private readonly inflight = new Map<number, Pending>();
  private waiting: Pending[] = [];
  /** Publishes the gateway refused with SHUTTING_DOWN: re-sent (same bytes) on the next connection. */
  private parked: Pending[] = [];
  private waitingHead = 0;
  private out: Buffer[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  private lastCorr = 0;
  private wroteSinceTick = false;
  private keepalive: NodeJS.Timeout | null = null;
  private drainWaiters: Array<() => void> = [];
  private connectionError: FleetError | null = null;
  private readonly reconnectPolicy: ReconnectOptions | false;
  private readonly retryPolicy: PublishRetryOptions | false;
  /** Publishes waiting out a retry backoff (their timer re-queues them). */
  private readonly backingOff = new Set<Pending>();
  private retryCount = 0;

  constructor(readonly opts: ConnectOptions) {
    super();
    this.reconnectPolicy = opts.reconnect === undefined ? DEFAULT_RECONNECT : opts.reconnect;
    this.retryPolicy = opts.publishRetry === undefined ? DEFAULT_PUBLISH_RETRY : opts.publishRetry;
  }

  /** Publishes re-sent after an UNAVAILABLE / OVERLOADED answer, since this client was created. */
  get publishRetries(): number {
    return this.retryCount;
  }

  /** The gateway's WELCOME of the current connection (null while disconnected). */
  get gateway(): WelcomeFrame | null {
    return this.welcomeFrame;
  }

  /** Effective pipelining window of the current connection. */
  get window(): number {
    return this.windowSize;
  }

  get connected(): boolean {
    return this.state === 'open';
  }

  /** Frames queued or unanswered. */
  get outstanding(): number {
    return (
      this.inflight.size + this.parked.length + this.backingOff.size + this.waiting.length - this.waitingHead
    );
  }

  publish(topic: string, payload: PayloadInput, opts: PublishOptions = {}): Promise<PublishResult> {
    return new Promise<PublishResult>((resolve, reject) => {
      try {
        const id = opts.id ?? newMessageId();
        const envelope = this.envelopeBytes(topic, payload, opts, id, 'event');
        const corr = this.nextCorr();
        const level = opts.ack === 'durable' ? AckLevel.DURABLE : AckLevel.STREAM;
        if (opts.partitionKey !== undefined) validatePartitionKey(opts.partitionKey);
        const frame = encodePublish(corr, level, opts.partitionKey, envelope);
        const retry = this.retryPolicy;
        const deadline = retry ? Date.now() + retry.deliveryTimeoutMs : 0;
        this.enqueue({
          corr,
          kind: KIND_PUBLISH,
          id,
          frame,
          resolve: resolve as never,
          reject,
          done: false,
          deadline,
          retries: 0,
        });
      } catch (e) {
        reject(FleetError.from(e));
      }
    });
  }

  /** Publishes all (pipelined); resolves in input order, rejects with the first failure (the rest still go). */
  publishMany(msgs: readonly PublishInput[]): Promise<PublishResult[]> {
    return Promise.all(msgs.map((m) => this.publish(m.topic, m.payload, m)));
  }

  request(topic: string, payload: PayloadInput, opts: RequestOptions = {}): Promise<RequestResult> {
    return new Promise<RequestResult>((resolve, reject) => {
      try {
        const timeoutMs = opts.timeoutMs ?? this.opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
        const id = opts.id ?? newMessageId();
        const envelope = this.envelopeBytes(topic, payload, opts, id, 'query');
        const corr = this.nextCorr();
        if (opts.partitionKey !== undefined) validatePartitionKey(opts.partitionKey);
        const frame = encodeRequest(corr, timeoutMs, opts.partitionKey, envelope);
        const p: Pending = {
          corr,
          kind: KIND_REQUEST,
          id,
          frame,
          resolve: resolve as never,
          reject,
          done: false,
          deadline: 0,
          retries: 0,
        };
        p.timer = setTimeout(() => this.expire(p, timeoutMs), timeoutMs);
        this.enqueue(p);
      } catch (e) {
        reject(FleetError.from(e));
      }
    });
  }

  /** Waits (up to drainTimeoutMs) for every queued frame to be answered, then closes. Leftovers are rejected. */
  async close(opts: { drainTimeoutMs?: number } = {}): Promise<void> {
    if (this.state === 'closed') return;
    if (this.outstanding > 0) {
      // Also while reconnecting: the re-sent publishes may still be ACKed within the drain timeout.
      const drained = new Promise<void>((r) => this.drainWaiters.push(r));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((r) => {
        timer = setTimeout(r, opts.drainTimeoutMs ?? 10_000);
      });
      await Promise.race([drained, timeout]);
      clearTimeout(timer);
    }
    this.shutdown(new FleetError(ErrorCode.UNAVAILABLE, 'client closed'));
  }

  /** Closes now; everything unanswered is rejected. */
  destroy(): void {
    this.shutdown(new FleetError(ErrorCode.UNAVAILABLE, 'client destroyed'));
  }

  // ------------------------------------------------------------ connection lifecycle

  /** @internal Connects (with the reconnect policy's retries); rejects at once on an auth/version refusal. */
  async establish(): Promise<void> {
    const policy = this.reconnectPolicy;
    for (let attempt = 0; ; attempt++) {
      if (this.state === 'closed')
        throw this.connectionError ?? new FleetError(ErrorCode.UNAVAILABLE, 'client closed');
      try {
        await this.attach();
        return;
      } catch (e) {
        const err = FleetError.from(e);
        if (FATAL_HANDSHAKE_CODES.has(err.code) || !policy || attempt >= policy.retries) throw err;
        await new Promise((r) => setTimeout(r, backoffDelay(attempt, policy)));
      }
    }
  }

  /** One connect + HELLO/WELCOME. */
  private attach(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const { host, port } = this.opts;
      const { socket: sock, ready } = dial(this.opts);
      const decoder = new FrameDecoder({
        maxFrameBytes: this.opts.maxIncomingFrameBytes ?? DEFAULT_MAX_INCOMING,
      });
      let open = false;
      let settled = false;
      const fail = (e: FleetError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        reject(e);
      };
      const timer = setTimeout(
        () => fail(new FleetError(ErrorCode.TIMEOUT, `connect to ${host}:${port} timed out`)),
        this.opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      );
      sock.once(ready, () => {
        const hello: Frame = {
          type: FrameType.HELLO,
          corr: 0,
          clientName: this.opts.clientName ?? 'fleet-client',
        };
        if (this.opts.token) hello.token = this.opts.token;
        sock.write(encodeFrame(hello));
      });
      sock.on('data', (chunk: Buffer) => {
        let frames: Array<Frame | InvalidFrame>;
        try {
          frames = decoder.push(chunk);
        } catch (e) {
          const err = FleetError.from(e);
          if (!settled) fail(err);
          else {
            this.connectionError = err;
            sock.destroy();
          }
          return;
        }
        for (const f of frames) {
          if (open) this.onFrame(f);
          else if (f.type === FrameType.WELCOME) {
            open = settled = true;
            clearTimeout(timer);
            this.onOpen(sock, f);
            resolve();
          } else if (f.type === FrameType.ERROR) {
            fail(new FleetError(f.code, f.message));
            return;
          }
        }
        if (open) this.pump();
      });
      sock.on('error', (err) => {
        if (!settled)
          fail(new FleetError(ErrorCode.UNAVAILABLE, `connection to ${host}:${port} failed: ${err.message}`));
        else
          this.connectionError ??= new FleetError(ErrorCode.UNAVAILABLE, `connection lost: ${err.message}`);
      });
      sock.on('close', () => {
        if (!settled)
          fail(
            new FleetError(ErrorCode.UNAVAILABLE, `connection to ${host}:${port} closed during handshake`),
          );
        else if (this.socket === sock) this.onDisconnect();
      });
    });
  }

  private onOpen(sock: net.Socket, welcome: WelcomeFrame): void {
    if (this.state === 'closed') {
      sock.destroy();
      return;
    }
    const wasReconnect = this.state === 'reconnecting';
    this.state = 'open';
    this.socket = sock;
    this.welcomeFrame = welcome;
    this.connectionError = null;
    const asked = Math.max(1, this.opts.window ?? DEFAULT_WINDOW);
    this.windowSize = welcome.maxInFlight > 0 ? Math.min(asked, welcome.maxInFlight) : asked;
    this.startKeepalive(welcome.idleTimeoutMs);
    this.pump();
    if (wasReconnect) this.emit('reconnect', welcome);
  }

  private onDisconnect(): void {
    const err =
      this.connectionError ?? new FleetError(ErrorCode.UNAVAILABLE, 'connection closed by the gateway');
    this.connectionError = err;
    this.socket = null;
    this.welcomeFrame = null;
    this.windowSize = 0;
    this.out = [];
    this.outBytes = 0;
    this.stopKeepalive();
    // Unanswered publishes go back to the front of the queue, in send order, to be re-sent as they were.
    // A request's outcome is unknown (its reply was addressed to the lost connection): it fails.
    const resend: Pending[] = [];
    for (const p of this.inflight.values()) {
      if (p.kind === KIND_PUBLISH) resend.push(p);
      else
        this.settleError(
          p,
          new FleetError(ErrorCode.UNAVAILABLE, `connection lost before the reply: ${err.message}`),
        );
    }
    this.inflight.clear();
    if (this.parked.length) {
      resend.push(...this.parked);
      this.parked = [];
      resend.sort((a, b) => a.corr - b.corr); // send order
    }
    this.waiting = resend.concat(this.waiting.slice(this.waitingHead));
    this.waitingHead = 0;
    if (this.state === 'closed') return;
    this.emit('disconnect', err);
    if (FATAL_HANDSHAKE_CODES.has(err.code) || !this.reconnectPolicy) {
      this.shutdown(err);
      return;
    }
    this.state = 'reconnecting';
    this.establish().catch((e) => this.shutdown(FleetError.from(e)));
  }

  private shutdown(err: FleetError): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.connectionError = err;
    this.stopKeepalive();
    const sock = this.socket;
    this.socket = null;
    if (sock) {
      this.flush();
      sock.end();
      setTimeout(() => sock.destroy(), 1000).unref();
    }
    for (const p of this.inflight.values()) this.settleError(p, err);
    this.inflight.clear();
    for (const p of this.parked) this.settleError(p, err);
    this.parked = [];
    for (const p of this.backingOff) this.settleError(p, err);
    this.backingOff.clear();
    for (let i = this.waitingHead; i < this.waiting.length; i++) this.settleError(this.waiting[i]!, err);
    this.waiting = [];
    this.waitingHead = 0;
    this.notifyDrained();
    this.emit('closed', err);
  }

  // ------------------------------------------------------------ sending

  private envelopeBytes(
    topic: string,
    payload: PayloadInput,
    opts: PublishOptions,
    id: string,
    defaultType: MessageType,
  ): Buffer {
    const env: Envelope = {
      id,
      topic,
      type: opts.type ?? defaultType,
      priority: opts.priority ?? 0,
      timestamp: Date.now(),
      headers: opts.headers ?? {},
      payload: toPayloadBytes(payload),
    };
    if (opts.ttl !== undefined) env.ttl = opts.ttl;
    const source = opts.source ?? this.opts.clientName;
    if (source) env.source = source;
    if (opts.target) env.target = opts.target;
    if (opts.correlationId) env.correlationId = opts.correlationId;
    if (opts.traceparent) env.traceparent = opts.traceparent;
    validateEnvelope(env);
    return encodeEnvelope(env);
  }

  private nextCorr(): number {
    // u32, never 0 (0 marks connection-level errors); skips corrs still unanswered after a wrap.
    do {
      this.lastCorr = this.lastCorr >= 0xffff_ffff ? 1 : this.lastCorr + 1;
    } while (this.inflight.has(this.lastCorr));
    return this.lastCorr;
  }

  private enqueue(p: Pending): void {
    if (this.state === 'closed') {
      p.reject(this.connectionError ?? new FleetError(ErrorCode.UNAVAILABLE, 'client closed'));
      return;
    }
    this.waiting.push(p);
    this.pump();
  }

  /** Moves queued frames into flight while the window has room. */
  private pump(): void {
    const sock = this.socket;
    if (!sock) return;
    const maxFrame = this.welcomeFrame?.maxFrameBytes ?? Number.POSITIVE_INFINITY;
    while (this.inflight.size < this.windowSize && this.waitingHead < this.waiting.length) {
      const p = this.waiting[this.waitingHead]!;
      this.waiting[this.waitingHead++] = undefined as never;
      if (p.done) continue;
      if (p.frame.length > maxFrame) {
        // The gateway would close the connection on it: refuse locally.
        this.settleError(
          p,
          new FleetError(
            ErrorCode.FRAME_TOO_LARGE,
            `frame of ${p.frame.length} bytes exceeds the gateway's ${maxFrame}`,
          ),
        );
        continue;
      }
      this.inflight.set(p.corr, p);
      this.send(p.frame);
    }
    if (this.waitingHead === this.waiting.length) {
      this.waiting = [];
      this.waitingHead = 0;
    } else if (this.waitingHead > 4096 && this.waitingHead * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.waitingHead);
      this.waitingHead = 0;
    }
    this.notifyDrained();
  }

  /** Gathers frames written in one tick into one socket write. */
  private send(buf: Buffer): void {
    this.out.push(buf);
    this.outBytes += buf.length;
    this.wroteSinceTick = true;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const sock = this.socket;
    if (!sock || this.out.length === 0) return;
    const data = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out, this.outBytes);
    this.out = [];
    this.outBytes = 0;
    sock.write(data);
  };

  // ------------------------------------------------------------ receiving

  private onFrame(f: Frame | InvalidFrame): void {
    switch (f.type) {
      case FrameType.ACK: {
        const p = this.take(f.corr);
        if (p && !p.done) {
          p.done = true;
          (p.resolve as (v: PublishResult) => void)({ id: f.messageId || p.id, streamId: f.streamId });
        }
        return;
      }
      case FrameType.RESPONSE: {
        const p = this.take(f.corr);
        if (!p || p.done) return;
        if (f.status !== 0) {
          this.settleError(p, new FleetError(f.status, f.error || 'request failed'));
          return;
        }
        p.done = true;
        clearTimeout(p.timer);
        const payload = f.payload;
        const result: RequestResult = { payload, json: <T>() => JSON.parse(payload.toString('utf8')) as T };
        if (f.traceparent) result.traceparent = f.traceparent;
        (p.resolve as (v: RequestResult) => void)(result);
        return;
      }
      case FrameType.ERROR: {
        const err = new FleetError(f.code, f.message);
        if (f.corr === 0) {
          // Connection-level: the gateway closes after closing codes; remember why for the reconnect.
          if (closesConnection(f.code)) this.connectionError = err;
          return;
        }
        const p = this.take(f.corr);
        if (p && p.kind === KIND_PUBLISH && f.code === ErrorCode.SHUTTING_DOWN && this.reconnectPolicy) {
          // Its outcome is unknown and this gateway is going away: re-send it, same id, after the reconnect.
          this.parked.push(p);
        } else if (p && !(p.kind === KIND_PUBLISH && this.retryLater(p, f.code))) {
          this.settleError(
            p,
            p.retries > 0 ? new FleetError(f.code, `${f.message} (after ${p.retries} retries)`) : err,
          );
        }
        if (closesConnection(f.code)) this.connectionError = err;
        return;
      }
      case FrameType.PING:
        this.send(encodeFrame({ type: FrameType.PONG, corr: f.corr }));
        return;
      default:
        // PONG (keepalive), stray WELCOME, or an invalid item from a confused peer: nothing to answer.
        return;
    }
  }

  /** Schedules a retry of a publish refused with a transient `code`; false when it must fail now. */
  private retryLater(p: Pending, code: number): boolean {
    const policy = this.retryPolicy;
    if (!policy || p.done || !RETRYABLE_CODES.has(code) || this.state === 'closed') return false;
    const delayMs = backoffDelay(p.retries, policy);
    if (Date.now() + delayMs > p.deadline) return false;
    p.retries++;
    this.retryCount++;
    this.backingOff.add(p);
    // The same frame, corr included: that corr was answered, and it cannot come round again (u32) before
    // the deadline. Same bytes = same message id, so the fleet stores it once whatever happened before.
    p.timer = setTimeout(() => {
      if (!this.backingOff.delete(p) || p.done) return;
      this.waiting.push(p);
      this.pump();
    }, delayMs);
    this.emit('retry', { id: p.id, code, attempt: p.retries, delayMs } satisfies RetryEvent);
    return true;
  }

  private take(corr: number): Pending | undefined {
    const p = this.inflight.get(corr);
    if (p) this.inflight.delete(corr);
    return p;
  }

  private settleError(p: Pending, e: FleetError): void {
    clearTimeout(p.timer);
    if (p.done) return;
    p.done = true;
    p.reject(e);
  }

  private expire(p: Pending, timeoutMs: number): void {
    if (p.done) return;
    this.settleError(p, new FleetError(ErrorCode.TIMEOUT, `request timed out after ${timeoutMs} ms`));
    // Still in flight: keep the slot (the gateway counts it) until its answer, bounded by a grace period.
    if (this.inflight.get(p.corr) === p) {
      setTimeout(() => {
        if (this.inflight.get(p.corr) === p) {
          this.inflight.delete(p.corr);
          this.pump();
        }
      }, ZOMBIE_GRACE_MS).unref();
    }
  }

  private notifyDrained(): void {
    if (this.drainWaiters.length === 0 || this.outstanding > 0) return;
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const r of w) r();
  }

  // ------------------------------------------------------------ keepalive

  private startKeepalive(idleTimeoutMs: number): void {
    this.stopKeepalive();
    if (!(idleTimeoutMs > 0)) return;
    this.keepalive = setInterval(
      () => {
        if (!this.wroteSinceTick && this.inflight.size < this.windowSize)
          this.send(encodeFrame({ type: FrameType.PING, corr: 0 }));
        this.wroteSinceTick = false;
      },
      Math.max(50, Math.floor(idleTimeoutMs / 3)),
    );
    this.keepalive.unref();
  }

  private stopKeepalive(): void {
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = null;
  }
}

/** Exponential backoff with jitter: attempt 0 -> ~minDelayMs, doubling up to maxDelayMs. */
export function backoffDelay(
  attempt: number,
  policy: Pick<ReconnectOptions, 'minDelayMs' | 'maxDelayMs'>,
): number {
  const base = Math.min(policy.maxDelayMs, policy.minDelayMs * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + (Math.random() * base) / 2);
}

/** Connects and completes the HELLO/WELCOME handshake. Rejects with FleetError (AUTH_FAILED, UNAVAILABLE, ...). */
export async function connect(opts: ConnectOptions): Promise<FleetClient> {
  const client = new FleetClient(opts);
  await client.establish();
  return client;
}
