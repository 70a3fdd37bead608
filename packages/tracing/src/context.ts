import { AsyncLocalStorage } from 'node:async_hooks';
import { resolveTraceparent } from '@fleet/protocol';
import { generateTraceInfo, type TraceInfo, toTraceInfo } from './traceparent.js';

/**
 * A trace entered as its header: parsed (or, when absent or malformed, a fresh trace made) on the first
 * TraceContext.get() in its scope, then the same TraceInfo for the rest of it. Entering a message's trace
 * then costs one small object; a handler that never asks (nor logs a line) pays no parse.
 */
class PendingTrace {
  private info: TraceInfo | undefined;
  constructor(
    private readonly header: string | undefined | null,
    /** The message id a derived mark stands for (@fleet/protocol trace-ref.ts). */
    private readonly id: string | undefined,
  ) {}
  resolve(): TraceInfo {
    this.info ??= toTraceInfo(this.id === undefined ? this.header : resolveTraceparent(this.header, this.id));
    return this.info;
  }
}
type Slot = TraceInfo | PendingTrace | undefined;
const resolve = (slot: Slot): TraceInfo | undefined => (slot instanceof PendingTrace ? slot.resolve() : slot);
const slotOf = (trace: string | TraceInfo | undefined | null, id?: string): Slot =>
  trace !== null && typeof trace === 'object' ? trace : new PendingTrace(trace, id);

// One store for the whole process: every package that asks for the current trace sees the same one.
const storage = new AsyncLocalStorage<Slot>();

/** The trace of the message being processed, carried across awaits, timers and callbacks. */
export const TraceContext = {
  /** Runs fn within trace; the previous trace is back when fn returns (its async work keeps trace). */
  run<T>(trace: TraceInfo, fn: () => T): T {
    return storage.run(trace, fn);
  },
  get(): TraceInfo | undefined {
    return resolve(storage.getStore());
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
 * Runs fn within a trace given as a traceparent header or a TraceInfo (a missing or malformed header
 * starts a new trace), and restores the previous trace afterwards, also across awaits. A header is
 * parsed when the trace is first asked for (TraceContext.get(), a log line), not on entry. With the
 * message's `id`, the header may be a trace reference (a derived mark: the id's trace, @fleet/protocol).
 */
export function withTrace<T>(trace: string | TraceInfo | undefined | null, fn: () => T, id?: string): T {
  return storage.run(slotOf(trace, id), fn);
}

/**
 * The design's ScopedTrace, RAII style: enters a trace now and puts the previous one back on
 * restore() (or `using`). Prefer withTrace(): ScopedTrace changes the current async context,
 * so restore() must run in the same synchronous stretch (or after the awaits) that entered it.
 */
export class ScopedTrace {
  readonly trace: TraceInfo;
  private readonly previous: Slot;
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
