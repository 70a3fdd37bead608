import type { FleetConfig } from '@fleet/config';
import {
  DeadReason,
  decodeEnvelope,
  type Envelope,
  encodeReply,
  type FleetKeys,
  isExpired,
  type JobMessage,
  MessageStatus,
  parseReplyAddress,
  type ReplyAddress,
  resolveTraceparent,
} from '@fleet/protocol';
import { type FleetRedis, publish } from '@fleet/redis';
import {
  errorMessage,
  HandlerTimeoutError,
  type RouteOutcome,
  type RouterLogger,
  type TopicRouter,
} from '@fleet/router';
import {
  type Logger,
  logProcessed,
  NOOP_SPAN,
  NOOP_TRACER,
  spanTraceparent,
  startSpanFromTraceparent,
  type Telemetry,
  withSpan,
  withTrace,
} from '@fleet/tracing';
import { SpanStatusCode } from '@opentelemetry/api';
import type { WorkerInstruments } from './instruments.js';
import type { Semaphore } from './semaphore.js';
import { checkPipeline, queueStatuses, type ReportedOutcome, sendOutcomes } from './status.js';

/** What processing a batch needs from the running worker (getters: config and router change live). */
export interface BatchDeps {
  config(): FleetConfig;
  router(): TopicRouter;
  /**
   * Command connection (never a BullMQ blocking one), standalone or cluster: status XADDs (one pipeline per
   * job, on its shard's stream) and reply publishes (SPUBLISH on a cluster).
   */
  redis: FleetRedis;
  keys: FleetKeys;
  /** Process-wide bound on messages being handled (thread_pools.work.queue_size). */
  slots: Semaphore;
  logger: RouterLogger;
  /** Shutdown: aborts running handlers; their messages are returned as unfinished. */
  shutdown: AbortSignal;
  tracer?: Telemetry['tracer'];
  instruments?: WorkerInstruments;
}

export interface BatchResult {
  /** Outcomes written to the shard's status stream. */
  reported: ReportedOutcome[];
  /** Messages cut short by shutdown: not reported, to be redelivered. */
  unfinished: JobMessage[];
}

/**
 * A job still running this long after it started reports PROCESSING for its messages. A job done sooner
 * sends only its outcomes (PROCESSING would be superseded at once): one status round trip per job, and
 * half the XADDs on the hot path.
 */
export const PROCESSING_AFTER_MS = 50;

/**
 * Handles one job's messages: each message through the router inside its trace with the process-wide slot
 * bound, replies published as soon as a request is done, then every outcome in one pipelined round trip
 * (PROCESSING first, pipelined, if the job runs past PROCESSING_AFTER_MS). One message's failure never
 * fails the batch.
 */
export async function processBatch(
  messages: readonly JobMessage[],
  d: BatchDeps,
  /** Shard of the queue the job came from: its outcomes go to that shard's status stream. */
  shard: number,
): Promise<BatchResult> {
  const cfg = d.config();
  const statusStream = d.keys.statusStream(shard);
  const router = d.router();
  const startedAt = Date.now();
  let processingSent: Promise<Array<[Error | null, unknown]> | null> | undefined;
  const processingTimer = setTimeout(() => {
    const processing = d.redis.pipeline();
    queueStatuses(
      processing,
      statusStream,
      messages.map((m) => ({ id: m.id, status: MessageStatus.PROCESSING, attempt: m.n ?? 0, at: startedAt })),
    );
    // PROCESSING is a hint (the outcomes supersede it): its loss does not fail the job.
    processingSent = processing.exec().catch((err: Error) => [[err, null]]);
  }, PROCESSING_AFTER_MS);

  const updates: Array<ReportedOutcome | undefined> = new Array(messages.length);
  const unfinished: JobMessage[] = [];
  const replies: Promise<unknown>[] = [];

  const one = async (m: JobMessage, i: number): Promise<void> => {
    const wait = d.slots.acquire();
    if (wait) await wait;
    d.instruments?.started();
    try {
      const done = await handleMessage(m, cfg, router, d, replies);
      if (done) updates[i] = done;
      else unfinished.push(m);
    } finally {
      d.instruments?.finished();
      d.slots.release();
    }
  };
  try {
    await Promise.all(messages.map(one));
  } finally {
    clearTimeout(processingTimer);
  }

  const reported = updates.filter((u): u is ReportedOutcome => u !== undefined);
  const [sentProcessing] = await Promise.all([
    processingSent,
    sendOutcomes(d.redis, statusStream, reported, (err) =>
      d.logger.warn(
        { error: err.message, messages: reported.length },
        'status outcomes not written; retrying',
      ),
    ),
  ]);
  if (sentProcessing !== undefined) {
    try {
      checkPipeline(sentProcessing, 'status PROCESSING');
    } catch (err) {
      d.logger.debug({ error: (err as Error).message }, 'status PROCESSING not written');
    }
  }
  const replyResults = await Promise.allSettled(replies);
  for (const r of replyResults)
    if (r.status === 'rejected') d.logger.warn({ err: r.reason }, 'reply publish failed');
  d.instruments?.jobDone();
  return { reported, unfinished };
}

/** Routes one message; returns its status update, or undefined when shutdown cut it short. */
async function handleMessage(
  m: JobMessage,
  cfg: FleetConfig,
  router: TopicRouter,
  d: BatchDeps,
  replies: Promise<unknown>[],
): Promise<ReportedOutcome | undefined> {
  const attempt = m.n ?? 0;
  const replyTo = m.r ? parseReplyAddress(m.r) : null;
  let env: Envelope;
  try {
    env = decodeEnvelope(Buffer.from(m.e, 'base64'));
  } catch (err) {
    const error = `undecodable envelope: ${errorMessage(err)}`;
    d.logger.error({ msg_id: m.id }, error);
    if (replyTo)
      replies.push(publishReply(d, replyTo, false, undefined, error, resolveTraceparent(m.t, m.id)));
    return { id: m.id, status: MessageStatus.DEAD, attempt, error, at: Date.now() };
  }

  // A trace reference: the job's (a traceparent or a derived mark, made full only where one is read:
  // spans, replies, the handler's ctx.traceparent, a log line) or the envelope's.
  const traceRef = m.t ?? env.traceparent;
  // Past its time to live: not handled, dead-lettered with reason `expired` (a request gets that error).
  const now = Date.now();
  if (isExpired(env, now)) {
    if (replyTo)
      replies.push(
        publishReply(d, replyTo, false, undefined, DeadReason.expired, resolveTraceparent(traceRef, env.id)),
      );
    d.instruments?.processed(env.topic, MessageStatus.DEAD);
    return { id: m.id, status: MessageStatus.DEAD, attempt, error: DeadReason.expired, at: now };
  }
  const tracer = d.tracer ?? NOOP_TRACER;
  const span =
    tracer === NOOP_TRACER
      ? NOOP_SPAN
      : startSpanFromTraceparent(tracer, `handle ${env.topic}`, resolveTraceparent(traceRef, env.id), {
          'messaging.message.id': m.id,
          'messaging.destination.name': env.topic,
          'fleet.attempt': attempt,
        });
  // No span (the default): the message's own reference, handed on unparsed (withTrace and the handler's
  // context resolve it on demand, with the envelope id). The job's id is the envelope's (the row id).
  const handlerTrace = span === NOOP_SPAN ? traceRef : (spanTraceparent(span) ?? traceRef);
  const t0 = performance.now();
  const outcome: RouteOutcome = await withSpan(span, () =>
    withTrace(
      handlerTrace,
      async () => {
        const routed = await router.route(env, {
          attempt,
          traceparent: handlerTrace,
          logger: d.logger,
          signal: d.shutdown,
          isRequest: replyTo !== null,
          timeoutMs: cfg.handlers.timeout_ms,
        });
        // The design's MessageLogger, inside the trace (trace_id on the line); free above debug.
        logProcessed(d.logger as Logger, {
          topic: env.topic,
          id: m.id,
          latencyMs: performance.now() - t0,
          status: routed.status,
        });
        return routed;
      },
      env.id,
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  if (outcome.status === 'aborted') {
    span.end();
    return undefined;
  }

  const update = toStatus(m.id, attempt, outcome, cfg);
  if (update.status !== MessageStatus.COMPLETED)
    span.setStatus({ code: SpanStatusCode.ERROR, message: update.error ?? '' });
  span.end();
  if (outcome.status === 'failed') {
    d.instruments?.metrics.handlerErrors.inc({
      reason: outcome.errors.some((e) => isTimeout(e.error)) ? 'timeout' : 'error',
    });
    d.logger.warn({ msg_id: m.id, topic: env.topic, attempt, error: update.error }, 'message failed');
  }
  if (outcome.status === 'unrouted') d.instruments?.metrics.unrouted.inc();
  d.instruments?.processed(env.topic, update.status, seconds, env.timestamp);
  if (replyTo) {
    const ok = outcome.status === 'completed';
    const error = ok ? undefined : outcome.status === 'unrouted' ? DeadReason.unrouted : update.error;
    replies.push(publishReply(d, replyTo, ok, outcome.reply, error, resolveTraceparent(traceRef, env.id)));
  }
  return update;
}

function toStatus(id: string, attempt: number, outcome: RouteOutcome, cfg: FleetConfig): ReportedOutcome {
  const at = Date.now();
  switch (outcome.status) {
    case 'completed':
      return { id, status: MessageStatus.COMPLETED, attempt, at };
    case 'unrouted':
      return cfg.handlers.unrouted === 'complete'
        ? { id, status: MessageStatus.COMPLETED, attempt, at }
        : { id, status: MessageStatus.DEAD, attempt, error: DeadReason.unrouted, at };
    default:
      return { id, status: MessageStatus.FAILED, attempt, error: describeFailure(outcome), at };
  }
}

/** `<handler>: <error>` for each failed handler, `; `-joined. */
export function describeFailure(outcome: RouteOutcome): string {
  return outcome.errors.map((e) => `${e.subscription.name}: ${errorMessage(e.error)}`).join('; ');
}

function isTimeout(err: unknown): boolean {
  return err instanceof HandlerTimeoutError;
}

function publishReply(
  d: BatchDeps,
  to: ReplyAddress,
  ok: boolean,
  payload: Uint8Array | undefined,
  error: string | undefined,
  traceparent: string | undefined,
): Promise<unknown> {
  const body = encodeReply({
    correlationId: to.correlationId,
    ok,
    ...(payload ? { payload } : {}),
    ...(error !== undefined ? { error } : {}),
    ...(traceparent ? { traceparent } : {}),
  });
  return publish(d.redis, d.keys.replyChannel(to.gatewayId), body);
}
