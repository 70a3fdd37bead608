import { performance } from 'node:perf_hooks';
import type { FleetConfig } from '@fleet/config';
import { encodeError, FrameType } from '@fleet/protocol';
import type { Connection } from './connection.js';
import type { GatewayInstruments } from './instruments.js';

/** After a closing ERROR the peer gets this long to read it and close before the socket is destroyed. */
const CLOSE_LINGER_MS = 2_000;
/** A paused socket resumes once its window and the process-wide count are down to half their bound (hysteresis). */
const lowWater = (bound: number) => Math.floor(bound / 2);

/**
 * Everything the gateway writes to clients and the flow control that follows from it: answers (ACK,
 * RESPONSE, ERROR) are queued per connection and written once per microtask burst; the per-connection
 * window (network.max_in_flight) and the process-wide bound (thread_pools.io.queue_size) pause reading and
 * resume it below half. A connection-closing ERROR waits for the answers of the frames read before it.
 */
export class Output {
  /** Frames read and not yet answered, all connections. */
  inFlight = 0;
  peakInFlight = 0;
  /** ACKs written (stream and durable). */
  acked = 0;
  /** ERROR frames written. */
  errors = 0;
  readonly paused = new Set<Connection>();
  /** Shutdown: paused sockets stay paused. */
  closing = false;

  // Flow-control limits (live).
  private maxInFlight = 0;
  private connLow = 0;
  private queueSize = 0;
  private globalLow = 0;

  // Batched answers: connections with queued output, written once per microtask burst.
  private dirty: Connection[] = [];
  private writeScheduled = false;

  constructor(
    cfg: FleetConfig,
    private readonly instruments: GatewayInstruments,
  ) {
    this.reconfigure(cfg);
  }

  reconfigure(cfg: FleetConfig): void {
    this.maxInFlight = cfg.network.max_in_flight;
    this.connLow = lowWater(this.maxInFlight);
    this.queueSize = cfg.thread_pools.io.queue_size;
    this.globalLow = lowWater(this.queueSize);
  }

  /** Counts a frame that will get exactly one answer later. */
  admit(conn: Connection): void {
    conn.inFlight++;
    if (++this.inFlight > this.peakInFlight) this.peakInFlight = this.inFlight;
  }

  /** After a chunk was read: stops reading a socket whose window or the process bound is full, or that does not read its answers. */
  pauseIfFull(conn: Connection): void {
    if (
      !conn.paused &&
      (conn.inFlight >= this.maxInFlight || this.inFlight >= this.queueSize || conn.socket.writableNeedDrain)
    ) {
      conn.paused = true;
      conn.socket.pause();
      this.paused.add(conn);
    }
  }

  /** Answers a counted frame (ACK, RESPONSE, ERROR): frees its window slot. */
  answer(conn: Connection, frame: Buffer): void {
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

  answerError(conn: Connection, corr: number, code: number, message: string): void {
    this.countError(code);
    this.answer(conn, encodeError(corr, code, message));
  }

  /** ERROR for a frame that was never counted in flight. */
  sendError(conn: Connection, corr: number, code: number, message: string): void {
    this.countError(code);
    this.queueWrite(conn, encodeError(corr, code, message));
  }

  countError(code: number): void {
    this.errors++;
    this.instruments.error(code);
    this.instruments.framesOut(FrameType.ERROR, 1);
  }

  /**
   * The connection-closing ERROR (the caller has stopped its input): sent after the answers to the frames
   * still in flight (each PUBLISH/REQUEST gets exactly one answer first), at once when there are none.
   */
  closeAfterAnswers(conn: Connection, code: number, message: string, corr: number): void {
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
    setTimeout(() => conn.socket.destroy(), CLOSE_LINGER_MS).unref();
  }

  queueWrite(conn: Connection, frame: Buffer): void {
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
  readonly flushWrites = (): void => {
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

  /** The socket closed: its unanswered frames leave the process-wide count, its queued output is dropped. */
  forget(conn: Connection): void {
    this.paused.delete(conn);
    this.inFlight -= conn.inFlight;
    conn.inFlight = 0;
    conn.out = [];
  }

  /** Resumes paused sockets once both their window and the process-wide bound are below the low-water marks. */
  readonly resumeEligible = (): void => {
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
  };
}
