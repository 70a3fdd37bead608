import { resolveTraceparent } from '@fleet/protocol';
import type { Logger } from 'pino';

/** pino's numeric debug level: below it, the hot-path helpers return before building anything. */
const DEBUG = 20;

export interface ReceivedFields {
  topic: string;
  size: number;
  id: string;
  /** Trace reference (a traceparent or a derived mark, @fleet/protocol trace-ref.ts), written as `trace_id`
   *  (for callers outside the message's trace scope, e.g. the gateway). */
  traceparent?: string;
}

export interface ProcessedFields {
  topic: string;
  id: string;
  latencyMs: number;
  status: string;
}

/** The design's MessageLogger: one debug line per received message (free at info). */
export function logReceived(logger: Logger, m: ReceivedFields): void {
  if (logger.levelVal > DEBUG) return;
  const fields: Record<string, unknown> = { topic: m.topic, size: m.size, msg_id: m.id };
  const traceparent = resolveTraceparent(m.traceparent, m.id);
  if (traceparent) fields.trace_id = traceparent.slice(3, 35);
  logger.debug(fields, 'message received');
}

/** One debug line per processed message with its latency and outcome (free at info). */
export function logProcessed(logger: Logger, m: ProcessedFields): void {
  if (logger.levelVal > DEBUG) return;
  logger.debug(
    { topic: m.topic, msg_id: m.id, latency_ms: m.latencyMs, status: m.status },
    'message processed',
  );
}

export const MessageLogger = { logReceived, logProcessed };
