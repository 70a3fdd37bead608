import type { Envelope } from '@fleet/protocol';

/** The logger a handler receives: a pino logger satisfies it (tests may pass noopLogger). */
export interface RouterLogger {
  child(bindings: Record<string, unknown>): RouterLogger;
  /** pino's level check; loggers without it are treated as writing every level. */
  isLevelEnabled?(level: string): boolean;
  trace(obj: unknown, msg?: string): void;
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

/** What a handler may send back for a request: bytes as-is, a string as UTF-8, anything else as JSON. */
export type ReplyData = Uint8Array | string | object | number | boolean;

export interface HandlerContext {
  readonly envelope: Envelope;
  /** The envelope's opaque payload bytes. */
  readonly payload: Uint8Array;
  /** The payload parsed as UTF-8 JSON (throws on invalid JSON: the handler fails). */
  json<T = unknown>(): T;
  /** The payload as UTF-8 text. */
  text(): string;
  readonly topic: string;
  /** 32-hex W3C trace id ('' when the message carries no trace). */
  readonly traceId: string;
  readonly traceparent?: string;
  /** Child logger bound to this handler, topic and message id. */
  readonly logger: RouterLogger;
  /** Aborted when this handler's timeout passes or the worker shuts down. */
  readonly signal: AbortSignal;
  /** Requests only (throws otherwise). The first reply of a message wins; later ones are ignored. */
  reply(data: ReplyData): void;
  /** Retry count of this delivery (0 on the first). */
  readonly attempt: number;
}

/** A handler's return value is the reply of a request when it did not call ctx.reply(). */
export type Handler = (ctx: HandlerContext) => unknown;

export type Filter = (envelope: Envelope) => boolean;

export interface SubscribeOptions {
  /** 0-10, higher runs first (default 5). */
  priority?: number;
  /** Runs only when the predicate returns true; a throwing filter fails the message. */
  filter?: Filter;
  /** Shown in logs and errors (default: the pattern). */
  name?: string;
  /** Overrides the route's timeout for this handler. */
  timeoutMs?: number;
}

export interface Subscription {
  readonly id: string;
  readonly pattern: string;
  readonly name: string;
  readonly priority: number;
  readonly filter?: Filter;
  readonly timeoutMs?: number;
  readonly handler: Handler;
  /** Subscription order: ties in priority run in this order. */
  readonly seq: number;
}

export interface RouteOptions {
  /** Retry count of this delivery (default 0). */
  attempt?: number;
  /** The message's trace: a W3C traceparent, or a derived mark (the envelope id's trace, @fleet/protocol
   *  resolveTraceparent). Default: the envelope's traceparent. */
  traceparent?: string;
  /** Default: the trace id inside `traceparent`. */
  traceId?: string;
  logger?: RouterLogger;
  /** Shutdown: aborts every running handler; the outcome is then `aborted`. */
  signal?: AbortSignal;
  /** Whether ctx.reply() is allowed (the message is a request). */
  isRequest?: boolean;
  /** Handler timeout when the subscription sets none (default: the router's). */
  timeoutMs?: number;
}

export interface HandlerFailure {
  subscription: Subscription;
  error: unknown;
}

export interface RouteOutcome {
  /**
   * completed: every matching handler succeeded. failed: at least one threw, timed out or its filter threw.
   * unrouted: no subscription matched (or every filter said no). aborted: the route's signal fired before
   * every handler finished (the caller should leave the message to be redelivered, not report it).
   */
  status: 'completed' | 'failed' | 'unrouted' | 'aborted';
  errors: HandlerFailure[];
  /** Request reply bytes: the first ctx.reply(), else the first non-undefined handler return value. */
  reply?: Uint8Array;
  /** Handlers that ran. */
  handled: number;
}
