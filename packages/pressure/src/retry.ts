import { type Backoff, LogLimiter } from './backoff.js';

/** Thrown by `retry` (and nothing else) when its signal aborts between attempts. */
export class RetryAborted extends Error {
  constructor() {
    super('retry aborted');
    this.name = 'RetryAborted';
  }
}

/** Waits `ms`, or less when `signal` aborts (resolves, never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface RetryOptions {
  /** Waits between attempts (a fresh one per call unless attempts should share the ramp). */
  backoff: Backoff;
  /** Stops retrying: the pending wait ends and `retry` throws RetryAborted. */
  signal?: AbortSignal;
  /**
   * Sees each failure before its wait. Throw to give up (that error goes to the caller); return 'log' to
   * have it written through `log`, at most once per `logLimiter` interval (other kinds are the caller's:
   * e.g. one line per outage via a state log).
   */
  onError?: (err: unknown, waitMs: number) => 'log' | undefined;
  logLimiter?: LogLimiter;
  /** Writes a failure onError asked for, with how many were swallowed since the last line. */
  log?: (err: unknown, suppressed: number) => void;
}

/**
 * The fleet's one retry loop: runs `fn` until it succeeds, waiting `backoff.next()` between attempts, so
 * a dependency that is down for an hour costs one cheap attempt per backoff cap and a bounded number of
 * log lines. Without onError every failure is retried.
 */
export async function retry<T>(fn: () => Promise<T>, o: RetryOptions): Promise<T> {
  const limiter = o.logLimiter ?? (o.log ? new LogLimiter() : undefined);
  for (;;) {
    if (o.signal?.aborted) throw new RetryAborted();
    try {
      return await fn();
    } catch (err) {
      const wait = o.backoff.next();
      if (o.onError?.(err, wait) === 'log' && o.log && limiter) {
        const suppressed = limiter.take();
        if (suppressed >= 0) o.log(err, suppressed);
      }
      if (o.signal?.aborted) throw new RetryAborted();
      await sleep(wait, o.signal);
    }
  }
}
