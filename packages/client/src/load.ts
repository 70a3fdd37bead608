import type net from 'node:net';
import type tls from 'node:tls';
import {
  AckLevel,
  ErrorCode,
  encodeEnvelope,
  encodeFrame,
  encodePublish,
  errorCodeName,
  FRAME_HEADER_BYTES,
  type Frame,
  FrameDecoder,
  FrameType,
  type InvalidFrame,
  newMessageId,
} from '@fleet/protocol';
import * as hdr from 'hdr-histogram-js';
import { backoffDelay, DEFAULT_PUBLISH_RETRY } from './client.js';
import { dial } from './dial.js';
import { FleetError } from './errors.js';

/**
 * The default topic of `fleet bench` and runLoad. The example handlers (examples/handlers, what `npm start`
 * loads) complete `bench.#` with a no-op handler, so a bench against the default fleet measures the whole
 * path; a fleet without a handler for it dead-letters every message (handlers.unrouted: dead_letter).
 */
export const BENCH_TOPIC = 'bench.load';

/**
 * The load generator behind `fleet bench` (and bench/gateway.ts, which runs it in a separate process).
 * It speaks the wire protocol directly rather than through FleetClient: one pre-encoded PUBLISH template per
 * connection, patched in place (corr, id, timestamp) per message, so the generator stays cheap next to the
 * gateway it measures. Each connection keeps `window` publishes in flight; every ACK frees a slot that is
 * refilled at once, and everything refilled while handling one socket chunk goes out in one write.
 * With `rate` it is open loop instead: publishes go out on a fixed schedule (every 5 ms, what is due),
 * whatever the ACKs do, still at most `window` in flight per connection.
 * A publish answered UNAVAILABLE or OVERLOADED is retried like the client does (same bytes and id, backoff
 * with jitter, within `deliveryTimeoutMs` of its first send; its latency counts from that first send): the
 * retries are counted, and only a publish that runs out of time counts as an error.
 */
export interface LoadOptions {
  host: string;
  port: number;
  tls?: boolean | tls.ConnectionOptions;
  token?: string;
  connections: number;
  /** Publishes in flight per connection (capped by the gateway's max_in_flight). */
  window: number;
  /** Payload bytes per message. */
  size: number;
  durationS: number;
  topic?: string;
  ack?: 'stream' | 'durable';
  /** Open loop: messages per second over all connections (default: closed loop, as fast as ACKs return). */
  rate?: number;
  /** With `rate`: seconds over which the rate climbs linearly from 0 (a warm-up without a burst). */
  rampS?: number;
  /** Per-publish deadline for retries of UNAVAILABLE / OVERLOADED (default the client's, 30 s; 0 = none). */
  deliveryTimeoutMs?: number;
  /** Called about once a second. */
  onProgress?: (p: LoadProgress) => void;
  progressIntervalMs?: number;
}

export interface LoadProgress {
  elapsedS: number;
  acked: number;
  errors: number;
  retries: number;
  /** ACKs per second over the last interval. */
  ackedPerS: number;
  inFlight: number;
}

export interface LoadResult {
  connections: number;
  window: number;
  size: number;
  durationS: number;
  sent: number;
  /** ACKs received within the measured duration. */
  acked: number;
  errors: number;
  errorsByCode: Record<string, number>;
  /** Re-sends after UNAVAILABLE / OVERLOADED answers. */
  retries: number;
  ackedPerS: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
}

// Offsets inside the PUBLISH template (no partition key, no ttl): header | u16 0 | envelope.
const ENV_OFFSET = FRAME_HEADER_BYTES + 2;
const TS_OFFSET = ENV_OFFSET + 4;
const ID_OFFSET = ENV_OFFSET + 12 + 2; // after the fixed envelope fields and the id's u16 length
const ID_BYTES = 36; // newMessageId(): UUID text form

interface Shared {
  acked: number;
  sent: number;
  errors: number;
  errorsByCode: Record<string, number>;
  retries: number;
  inFlight: number;
  /** Publishes the schedule allows so far (Infinity in closed loop). */
  allowed: number;
  running: boolean;
  hist: hdr.Histogram;
}

/** Messages due `t` s into an open-loop run: the integral of a rate climbing over `rampS`, then holding. */
export function dueByTime(rate: number, rampS: number, t: number): number {
  return Math.floor(rate * (t < rampS ? (t * t) / (2 * rampS) : t - rampS / 2));
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  if (!(opts.connections >= 1 && opts.window >= 1 && opts.size >= 0 && opts.durationS > 0))
    throw new RangeError('connections and window must be >= 1, size >= 0, durationS > 0');
  if (opts.rate !== undefined && !(opts.rate > 0)) throw new RangeError('rate must be > 0 messages/s');
  const shared: Shared = {
    acked: 0,
    sent: 0,
    errors: 0,
    errorsByCode: {},
    retries: 0,
    inFlight: 0,
    allowed: opts.rate === undefined ? Number.POSITIVE_INFINITY : 0,
    running: false,
    hist: hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 3_600_000_000,
      numberOfSignificantValueDigits: 3,
    }),
  };
  const template = publishTemplate(opts);
  const opened = await Promise.allSettled(
    Array.from({ length: opts.connections }, () => LoadConnection.open(opts)),
  );
  const conns = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  const failed = opened.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed) {
    for (const c of conns) c.close();
    throw FleetError.from(failed.reason);
  }

  const start = performance.now();
  shared.running = true;
  const deliveryTimeoutMs = opts.deliveryTimeoutMs ?? DEFAULT_PUBLISH_RETRY.deliveryTimeoutMs;
  for (const c of conns) c.start(shared, template, deliveryTimeoutMs);
  const rate = opts.rate;
  const schedule =
    rate === undefined
      ? undefined
      : setInterval(() => {
          shared.allowed = dueByTime(rate, opts.rampS ?? 0, (performance.now() - start) / 1000);
          for (const c of conns) c.refill();
        }, 5);

  const interval = opts.progressIntervalMs ?? 1000;
  let lastAcked = 0;
  let lastT = start;
  const progress = setInterval(() => {
    const now = performance.now();
    opts.onProgress?.({
      elapsedS: (now - start) / 1000,
      acked: shared.acked,
      errors: shared.errors,
      retries: shared.retries,
      ackedPerS: ((shared.acked - lastAcked) * 1000) / (now - lastT),
      inFlight: shared.inFlight,
    });
    lastAcked = shared.acked;
    lastT = now;
  }, interval);

  await new Promise((r) => setTimeout(r, opts.durationS * 1000));
  shared.running = false;
  clearInterval(schedule);
  const elapsed = (performance.now() - start) / 1000;
  const ackedInWindow = shared.acked;
  clearInterval(progress);
  // Let the last in-flight publishes come back (their latencies count), then hang up.
  await Promise.all(conns.map((c) => c.drain(5000)));
  for (const c of conns) c.close();

  const h = shared.hist;
  const ms = (us: number) => Math.round(us) / 1000;
  const result: LoadResult = {
    connections: opts.connections,
    window: Math.min(...conns.map((c) => c.window)),
    size: opts.size,
    durationS: Math.round(elapsed * 1000) / 1000,
    sent: shared.sent,
    acked: ackedInWindow,
    errors: shared.errors,
    errorsByCode: shared.errorsByCode,
    retries: shared.retries,
    ackedPerS: Math.round(ackedInWindow / elapsed),
    latencyMs: {
      p50: ms(h.getValueAtPercentile(50)),
      p90: ms(h.getValueAtPercentile(90)),
      p99: ms(h.getValueAtPercentile(99)),
      p999: ms(h.getValueAtPercentile(99.9)),
      max: ms(h.maxValue),
      mean: ms(h.mean),
    },
  };
  h.destroy();
  return result;
}

/**
 * The payload of every load message: `size` bytes of a fixed pseudo-random sequence (xorshift32, same seed
 * every run), so runs stay comparable and nothing on the way can compress it. A payload of one repeated byte
 * (what this was until 2026-12-07) is compressed by Postgres to almost nothing once a row passes its TOAST
 * threshold (~2 KB), which hid the cost of storing 8 KB envelopes (docs/benchmarks.md, "Payloads that do not
 * compress").
 */
export function benchPayload(size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = 0x9e3779b9;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A PUBLISH frame with a placeholder id of the final length; per message only corr, id and timestamp change. */
function publishTemplate(opts: LoadOptions): Buffer {
  const envelope = encodeEnvelope({
    id: 'x'.repeat(ID_BYTES),
    topic: opts.topic ?? BENCH_TOPIC,
    type: 'event',
    priority: 0,
    timestamp: Date.now(),
    headers: {},
    payload: benchPayload(opts.size),
  });
  return encodePublish(0, opts.ack === 'durable' ? AckLevel.DURABLE : AckLevel.STREAM, undefined, envelope);
}

class LoadConnection {
  window = 0;
  private shared!: Shared;
  private template!: Buffer;
  /** Send time per slot; a slot's corr is its index + 1, so at most one frame per slot is in flight. */
  private sentAt = new Float64Array(0);
  /** Per slot: the message id and timestamp (ms) of its publish, and its retries, to re-send it as it was. */
  private ids: string[] = [];
  private stamps = new Float64Array(0);
  private attempts = new Uint32Array(0);
  private deliveryTimeoutMs = DEFAULT_PUBLISH_RETRY.deliveryTimeoutMs;
  private free: number[] = [];
  private inFlight = 0;
  private drained: (() => void) | null = null;

  private constructor(
    private readonly socket: net.Socket,
    private readonly decoder: FrameDecoder,
  ) {}

  static open(opts: LoadOptions): Promise<LoadConnection> {
    return new Promise((resolve, reject) => {
      const { socket, ready } = dial(opts);
      const decoder = new FrameDecoder({ maxFrameBytes: 16 * 1024 * 1024 });
      const conn = new LoadConnection(socket, decoder);
      const fail = (e: Error) => {
        socket.destroy();
        reject(e);
      };
      const onError = (e: Error) =>
        fail(
          new FleetError(
            ErrorCode.UNAVAILABLE,
            `connection to ${opts.host}:${opts.port} failed: ${e.message}`,
          ),
        );
      socket.once('error', onError);
      socket.once(ready, () => {
        const hello: Frame = { type: FrameType.HELLO, corr: 0, clientName: 'fleet-bench' };
        if (opts.token) hello.token = opts.token;
        socket.write(encodeFrame(hello));
      });
      const onHandshake = (chunk: Buffer) => {
        for (const f of decoder.push(chunk)) {
          if (f.type === FrameType.ERROR) return fail(new FleetError(f.code, f.message));
          if (f.type === FrameType.WELCOME) {
            socket.off('data', onHandshake);
            socket.off('error', onError);
            conn.window = Math.min(opts.window, f.maxInFlight > 0 ? f.maxInFlight : opts.window, 0xffff);
            resolve(conn);
            return;
          }
        }
      };
      socket.on('data', onHandshake);
    });
  }

  start(shared: Shared, template: Buffer, deliveryTimeoutMs: number): void {
    this.shared = shared;
    this.template = template;
    this.deliveryTimeoutMs = deliveryTimeoutMs;
    this.sentAt = new Float64Array(this.window);
    this.ids = new Array<string>(this.window).fill('');
    this.stamps = new Float64Array(this.window);
    this.attempts = new Uint32Array(this.window);
    for (let i = this.window - 1; i >= 0; i--) this.free.push(i);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      this.shared.inFlight -= this.inFlight;
      this.inFlight = 0;
      this.drained?.();
    });
    this.refill();
  }

  private onData(chunk: Buffer): void {
    let frames: Array<Frame | InvalidFrame>;
    try {
      frames = this.decoder.push(chunk);
    } catch {
      this.socket.destroy();
      return;
    }
    const now = performance.now();
    const s = this.shared;
    for (const f of frames) {
      if (f.type !== FrameType.ERROR && f.type !== FrameType.ACK) continue;
      const slot = f.corr - 1;
      if (slot < 0 || slot >= this.window) continue; // corr 0: a connection-level ERROR
      if (f.type === FrameType.ERROR) {
        if (this.retryLater(slot, f.code)) continue;
        this.countError(f.code);
      }
      if (f.type === FrameType.ACK) {
        if (s.running) s.acked++;
        s.hist.recordValue(Math.max(1, Math.round((now - this.sentAt[slot]!) * 1000)));
      }
      this.free.push(slot);
      this.inFlight--;
      s.inFlight--;
    }
    if (s.running) this.refill();
    else if (this.inFlight === 0) this.drained?.();
  }

  private countError(code: number): void {
    const s = this.shared;
    s.errors++;
    const name = errorCodeName[code] ?? String(code);
    s.errorsByCode[name] = (s.errorsByCode[name] ?? 0) + 1;
  }

  /** Re-sends the slot's publish after a backoff when `code` is transient and its deadline allows. */
  private retryLater(slot: number, code: number): boolean {
    if (code !== ErrorCode.UNAVAILABLE && code !== ErrorCode.OVERLOADED) return false;
    const delayMs = backoffDelay(this.attempts[slot]!, DEFAULT_PUBLISH_RETRY);
    if (Date.now() + delayMs > this.stamps[slot]! + this.deliveryTimeoutMs) return false;
    this.attempts[slot]!++;
    this.shared.retries++;
    setTimeout(() => {
      // Also while draining after the run, like any publish in flight; 'close' has given the slot up.
      if (this.socket.destroyed) return;
      const frame = Buffer.allocUnsafe(this.template.length);
      this.writePublish(frame, 0, slot, this.ids[slot]!, this.stamps[slot]!);
      this.socket.write(frame);
    }, delayMs);
    return true;
  }

  /** The template with this slot's corr, message id and timestamp, at `o` in `buf`. */
  private writePublish(buf: Buffer, o: number, slot: number, id: string, nowMs: number): void {
    this.template.copy(buf, o);
    buf.writeUInt32BE(slot + 1, o + 8);
    buf.writeUInt32BE(Math.floor(nowMs / 0x1_0000_0000), o + TS_OFFSET);
    buf.writeUInt32BE(nowMs >>> 0, o + TS_OFFSET + 4);
    buf.write(id, o + ID_OFFSET, ID_BYTES, 'latin1');
  }

  /** Fills the free slots the schedule allows with fresh publishes; one socket write for all of them. */
  refill(): void {
    const n = Math.min(this.free.length, this.shared.allowed - this.shared.sent);
    if (n <= 0 || !this.shared.running || this.socket.destroyed) return;
    const len = this.template.length;
    const batch = Buffer.allocUnsafe(n * len);
    const nowMs = Date.now();
    const now = performance.now();
    for (let i = 0; i < n; i++) {
      const slot = this.free.pop()!;
      const id = newMessageId(nowMs);
      this.writePublish(batch, i * len, slot, id, nowMs);
      this.ids[slot] = id;
      this.stamps[slot] = nowMs;
      this.attempts[slot] = 0;
      this.sentAt[slot] = now;
    }
    this.inFlight += n;
    this.shared.inFlight += n;
    this.shared.sent += n;
    this.socket.write(batch);
  }

  drain(timeoutMs: number): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.drained = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  close(): void {
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 500).unref();
  }
}
