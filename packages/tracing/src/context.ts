import { AsyncLocalStorage } from 'node:async_hooks';
import { generateTraceInfo, type TraceInfo, toTraceInfo } from './traceparent.js';

// One store for the whole process: every package that asks for the current trace sees the same one.
const storage = new AsyncLocalStorage<TraceInfo | undefined>();

/** The trace of the message being processed, carried across awaits, timers and callbacks. */
export const TraceContext = {
  /** Runs fn within trace; the previous trace is back when fn returns (its async work keeps trace). */
  run<T>(trace: TraceInfo, fn: () => T): T {
    return storage.run(trace, fn);
  },
  get(): TraceInfo | undefined {
    return storage.getStore();
  },
  /** Sets the trace for the rest of the current synchronous execution and what it schedules. */
  set(trace: TraceInfo): void {
    storage.enterWith(trace);
  },
  clear(): void {
    storage.enterWith(undefined);
  },
  generate(): TraceInfo {
    return generateTraceInfo();
  },
};

/**
 * Runs fn within a trace given as a traceparent header or a TraceInfo (a malformed header starts a
 * new trace), and restores the previous trace afterwards, also across awaits.
 */
export function withTrace<T>(trace: string | TraceInfo | undefined | null, fn: () => T): T {
  return storage.run(toTraceInfo(trace), fn);
}

/**
 * The design's ScopedTrace, RAII style: enters a trace now and puts the previous one back on
 * restore() (or `using`). Prefer withTrace(): ScopedTrace changes the current async context,
 * so restore() must run in the same synchronous stretch (or after the awaits) that entered it.
 */
export class ScopedTrace {
  readonly trace: TraceInfo;
  private readonly previous: TraceInfo | undefined;
  private restored = false;

  constructor(trace: string | TraceInfo | undefined | null) {
    this.previous = storage.getStore();
    this.trace = toTraceInfo(trace);
    storage.enterWith(this.trace);
  }

  restore(): void {
    if (this.restored) return;
    this.restored = true;
    storage.enterWith(this.previous);
  }

  [Symbol.dispose](): void {
    this.restore();
  }

  /** Runs fn within trace and restores the previous trace (same as withTrace). */
  static run<T>(trace: string | TraceInfo | undefined | null, fn: () => T): T {
    return withTrace(trace, fn);
  }
}
