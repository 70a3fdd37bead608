import { type Envelope, resolveTraceparent } from '@fleet/protocol';
import { LazyChildLogger } from './lazy-logger.js';
import { replyBytes } from './reply.js';
import type { HandlerContext, ReplyData, RouterLogger, Subscription } from './types.js';

const utf8 = new TextDecoder();

/** Per-message state the handlers of one route share: the reply slot. */
export interface ReplySlot {
  readonly isRequest: boolean;
  reply?: Uint8Array;
}

/**
 * The context of one handler run. The logger and the AbortController are created on first use:
 * most handlers touch neither, and a route runs per message on the hot path.
 */
export class MessageContext implements HandlerContext {
  private controller?: AbortController;
  private abortReason?: unknown;
  private childLogger?: RouterLogger;

  constructor(
    readonly envelope: Envelope,
    private readonly sub: Subscription,
    private readonly slot: ReplySlot,
    private readonly baseLogger: RouterLogger,
    private readonly givenTraceId: string | undefined,
    private readonly traceRef: string | undefined,
    readonly attempt: number,
  ) {}

  /** The message's W3C traceparent, made from its trace reference (a derived mark is the envelope id's
   *  trace, @fleet/protocol trace-ref.ts) when read: most handlers never read it. */
  get traceparent(): string | undefined {
    return resolveTraceparent(this.traceRef, this.envelope.id);
  }

  /** Cut from traceparent when read (most handlers never do: no string per message). */
  get traceId(): string {
    if (this.givenTraceId !== undefined) return this.givenTraceId;
    const tp = this.traceparent;
    return tp && tp.length >= 35 ? tp.slice(3, 35) : '';
  }

  get payload(): Uint8Array {
    return this.envelope.payload;
  }

  get topic(): string {
    return this.envelope.topic;
  }

  text(): string {
    return utf8.decode(this.envelope.payload);
  }

  json<T = unknown>(): T {
    return JSON.parse(this.text()) as T;
  }

  get logger(): RouterLogger {
    this.childLogger ??= new LazyChildLogger(this.baseLogger, {
      handler: this.sub.name,
      topic: this.envelope.topic,
      msgId: this.envelope.id,
    });
    return this.childLogger;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  reply(data: ReplyData): void {
    if (!this.slot.isRequest)
      throw new Error(`reply() called for ${this.envelope.topic}, which is not a request`);
    if (this.slot.reply !== undefined) return;
    this.slot.reply = replyBytes(data);
  }

  /** Aborts the handler's signal (now, or when it is first read). */
  abort(reason: unknown): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }
}
