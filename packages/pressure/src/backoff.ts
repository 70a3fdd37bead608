/**
 * The one backoff and log rate limiter of the fleet's retry loops (persister stream loops and Postgres /
 * Redis calls via `retry` in retry.ts, worker job loop, gateway pressure sampler): a loop that fails on
 * every turn must neither spin nor flood the log.
 */

/** Exponential backoff with a cap; `reset()` after a success. */
export class Backoff {
  private attempt = 0;
  constructor(
    private readonly firstMs: number,
    private readonly maxMs: number,
  ) {}

  next(): number {
    const ms = Math.min(this.maxMs, this.firstMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return ms;
  }

  reset(): void {
    this.attempt = 0;
  }

  /** Failures since the last reset. */
  get failures(): number {
    return this.attempt;
  }
}

/** Default spacing of repeated log lines of one kind. */
export const LOG_EVERY_MS = 5_000;

/**
 * At most one log line per `everyMs` for one kind of event: `take()` says whether to write this one and
 * how many were swallowed since the last line written (to put on it), so an hour-long error loop writes
 * ~720 lines, not millions. Per-event cost: one clock read.
 */
export class LogLimiter {
  private lastAt = Number.NEGATIVE_INFINITY;
  private suppressed = 0;
  constructor(
    private readonly everyMs = LOG_EVERY_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** -1: do not log this one; otherwise log it, with the returned count of lines suppressed before it. */
  take(): number {
    const t = this.now();
    if (t - this.lastAt < this.everyMs) {
      this.suppressed++;
      return -1;
    }
    this.lastAt = t;
    const n = this.suppressed;
    this.suppressed = 0;
    return n;
  }
}
