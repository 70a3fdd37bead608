import type { Envelope } from '@fleet/protocol';
import { MessageContext, type ReplySlot } from './context.js';
import { HandlerAbortedError, HandlerTimeoutError } from './errors.js';
import { noopLogger } from './noop-logger.js';
import { parsePattern } from './pattern.js';
import { replyBytes } from './reply.js';
import { SubscriptionTrie } from './trie.js';
import type {
  Handler,
  HandlerFailure,
  RouteOptions,
  RouteOutcome,
  SubscribeOptions,
  Subscription,
} from './types.js';

export const MIN_PRIORITY = 0;
/** Subscription priorities (which handler runs first); unrelated to the envelope's priority (0-5). */
export const MAX_SUBSCRIPTION_PRIORITY = 10;
export const DEFAULT_PRIORITY = 5;
export const DEFAULT_TIMEOUT_MS = 30_000;

export interface TopicRouterOptions {
  /** Handler timeout when neither the subscription nor the route sets one. */
  defaultTimeoutMs?: number;
  /** Distinct topics whose match results are cached (0 = no cache). Cleared on (un)subscribe. */
  cacheSize?: number;
}

/**
 * Topic subscriptions with AMQP wildcards, priorities and filters, and the routing of one message to
 * its handlers. Execution order: priority groups from high to low, one after another; the handlers of
 * one priority run concurrently. A handler's failure (throw, rejection, timeout) fails the message
 * but never stops the other handlers.
 */
export class TopicRouter {
  private readonly trie = new SubscriptionTrie();
  private readonly subs = new Map<string, { sub: Subscription; segments: string[] }>();
  private readonly cache = new Map<string, readonly Subscription[]>();
  private seq = 0;
  readonly defaultTimeoutMs: number;
  private readonly cacheSize: number;

  constructor(private readonly options: TopicRouterOptions = {}) {
    this.defaultTimeoutMs = checkTimeout(options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS, 'defaultTimeoutMs');
    this.cacheSize = options.cacheSize ?? 10_000;
  }

  /** Adds a subscription; throws PatternError for an invalid pattern, RangeError for bad options. */
  subscribe(pattern: string, handler: Handler, opts: SubscribeOptions = {}): string {
    const segments = parsePattern(pattern);
    if (typeof handler !== 'function') throw new TypeError(`handler for ${pattern} is not a function`);
    const priority = opts.priority ?? DEFAULT_PRIORITY;
    if (!Number.isInteger(priority) || priority < MIN_PRIORITY || priority > MAX_SUBSCRIPTION_PRIORITY)
      throw new RangeError(
        `priority of ${pattern} must be an integer ${MIN_PRIORITY}-${MAX_SUBSCRIPTION_PRIORITY}, got ${priority}`,
      );
    if (opts.filter !== undefined && typeof opts.filter !== 'function')
      throw new TypeError(`filter of ${pattern} is not a function`);
    const seq = this.seq++;
    const sub: Subscription = {
      id: `s${seq}`,
      pattern,
      name: opts.name ?? pattern,
      priority,
      handler,
      seq,
      ...(opts.filter ? { filter: opts.filter } : {}),
      ...(opts.timeoutMs !== undefined
        ? { timeoutMs: checkTimeout(opts.timeoutMs, `timeoutMs of ${pattern}`) }
        : {}),
    };
    this.add(sub, segments);
    return sub.id;
  }

  unsubscribe(id: string): boolean {
    const entry = this.subs.get(id);
    if (!entry) return false;
    this.subs.delete(id);
    this.trie.remove(entry.segments, entry.sub);
    this.cache.clear();
    return true;
  }

  get size(): number {
    return this.subs.size;
  }

  subscriptions(): Subscription[] {
    return [...this.subs.values()].map((e) => e.sub);
  }

  /** A router with the same subscriptions (same ids) and options, changed independently from now on. */
  clone(): TopicRouter {
    const copy = new TopicRouter(this.options);
    for (const { sub, segments } of this.subs.values()) copy.add(sub, segments);
    copy.seq = this.seq;
    return copy;
  }

  /** Subscriptions whose pattern matches `topic`, by priority (high first), then subscription order. */
  match(topic: string): readonly Subscription[] {
    const hit = this.cache.get(topic);
    if (hit) return hit;
    const found = this.trie.match(topic.split('.'));
    if (found.length > 1) found.sort(byPriorityThenOrder);
    if (this.cacheSize > 0) {
      if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(topic, found);
    }
    return found;
  }

  /** Runs every matching handler of the envelope and reports the outcome; never rejects. */
  async route(envelope: Envelope, opts: RouteOptions = {}): Promise<RouteOutcome> {
    const errors: HandlerFailure[] = [];
    const selected: Subscription[] = [];
    for (const sub of this.match(envelope.topic)) {
      if (!sub.filter) {
        selected.push(sub);
        continue;
      }
      try {
        if (sub.filter(envelope)) selected.push(sub);
      } catch (error) {
        errors.push({ subscription: sub, error });
      }
    }
    if (selected.length === 0 && errors.length === 0) return { status: 'unrouted', errors, handled: 0 };

    const run: RunState = {
      envelope,
      slot: { isRequest: opts.isRequest === true },
      logger: opts.logger ?? noopLogger,
      traceparent: opts.traceparent ?? envelope.traceparent,
      traceId: opts.traceId,
      attempt: opts.attempt ?? 0,
      timeoutMs: opts.timeoutMs ?? this.defaultTimeoutMs,
      signal: opts.signal,
      errors,
      aborted: false,
      handled: 0,
    };

    // Priority groups in order; one group's handlers concurrently.
    let i = 0;
    while (i < selected.length) {
      if (run.signal?.aborted) {
        run.aborted = true;
        break;
      }
      const priority = selected[i]!.priority;
      let j = i + 1;
      while (j < selected.length && selected[j]!.priority === priority) j++;
      if (j - i === 1) await runHandler(selected[i]!, run);
      else {
        const group: Promise<void>[] = [];
        for (let k = i; k < j; k++) group.push(runHandler(selected[k]!, run));
        await Promise.all(group);
      }
      i = j;
    }

    const outcome: RouteOutcome = {
      status: run.aborted ? 'aborted' : errors.length > 0 ? 'failed' : 'completed',
      errors,
      handled: run.handled,
    };
    if (run.slot.reply !== undefined) outcome.reply = run.slot.reply;
    return outcome;
  }

  private add(sub: Subscription, segments: string[]): void {
    this.subs.set(sub.id, { sub, segments });
    this.trie.insert(segments, sub);
    this.cache.clear();
  }
}

interface RunState {
  envelope: Envelope;
  slot: ReplySlot;
  logger: NonNullable<RouteOptions['logger']>;
  traceparent: string | undefined;
  /** RouteOptions.traceId; otherwise the context cuts it from traceparent when a handler reads it. */
  traceId: string | undefined;
  attempt: number;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  errors: HandlerFailure[];
  aborted: boolean;
  handled: number;
}

function byPriorityThenOrder(a: Subscription, b: Subscription): number {
  return b.priority - a.priority || a.seq - b.seq;
}

function checkTimeout(ms: number, what: string): number {
  if (!Number.isFinite(ms) || ms <= 0)
    throw new RangeError(`${what} must be a positive number of ms, got ${ms}`);
  return ms;
}

/** Runs one handler; records its failure in run.errors; never rejects. */
async function runHandler(sub: Subscription, run: RunState): Promise<void> {
  run.handled++;
  const ctx = new MessageContext(
    run.envelope,
    sub,
    run.slot,
    run.logger,
    run.traceId,
    run.traceparent,
    run.attempt,
  );
  const fail = (error: unknown) => run.errors.push({ subscription: sub, error });
  let result: unknown;
  try {
    result = sub.handler(ctx);
  } catch (error) {
    fail(error);
    return;
  }
  if (!isThenable(result)) {
    keepReturnValue(run, result, fail);
    return;
  }
  // Asynchronous: race the handler against its timeout and the route's (shutdown) signal.
  const timeoutMs = sub.timeoutMs ?? run.timeoutMs;
  await new Promise<void>((resolve) => {
    let settled = false;
    const parent = run.signal;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      parent?.removeEventListener('abort', onAbort);
      fn();
      resolve();
    };
    const onAbort = () =>
      finish(() => {
        const error = new HandlerAbortedError(sub.name);
        ctx.abort(parent?.reason ?? error);
        run.aborted = true;
        fail(error);
      });
    const timer = setTimeout(
      () =>
        finish(() => {
          const error = new HandlerTimeoutError(sub.name, timeoutMs);
          ctx.abort(error);
          fail(error);
        }),
      timeoutMs,
    );
    if (parent) {
      if (parent.aborted) onAbort();
      else parent.addEventListener('abort', onAbort, { once: true });
    }
    result.then(
      (value) => finish(() => keepReturnValue(run, value, fail)),
      (error) => finish(() => fail(error)),
    );
  });
}

function keepReturnValue(run: RunState, value: unknown, fail: (e: unknown) => void): void {
  if (value === undefined || !run.slot.isRequest || run.slot.reply !== undefined) return;
  try {
    run.slot.reply = replyBytes(value as never);
  } catch (error) {
    fail(error);
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
