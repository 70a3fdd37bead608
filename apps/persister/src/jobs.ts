import { createHash } from 'node:crypto';
import { JOB_NAME, type JobData, type JobMessage } from '@fleet/protocol';
import type { NewMessage, StoredMessage } from './queue-api.js';

/** The job payload entry of one message (the one place a row becomes a JobMessage). */
export function toJobMessage(msg: StoredMessage | NewMessage, attempt: number): JobMessage {
  const m: JobMessage = { id: msg.id, e: msg.envelope.toString('base64'), n: attempt };
  if (msg.traceparent) m.t = msg.traceparent;
  if (msg.replyTo) m.r = msg.replyTo;
  return m;
}

/**
 * Splits messages, in order, into job payloads of at most `batchSize` messages and `maxBytes` bytes of
 * encoded envelopes (a single message larger than `maxBytes` travels alone).
 */
export function chunkJobMessages(
  messages: JobMessage[],
  batchSize: number,
  maxBytes: number,
): JobMessage[][] {
  const chunks: JobMessage[][] = [];
  let cur: JobMessage[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = m.e.length + m.id.length + (m.t?.length ?? 0) + (m.r?.length ?? 0) + 32;
    if (cur.length > 0 && (cur.length >= batchSize || bytes + size > maxBytes)) {
      chunks.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(m);
    bytes += size;
  }
  if (cur.length > 0) chunks.push(cur);
  return chunks;
}

/**
 * Deterministic BullMQ job id of a batch: `<kind>-<sha1 of its message ids>[-<tag>]`.
 * The same messages dispatched for the same reason always get the same id, so a repeated add is a no-op
 * while the job exists. Hashing keeps ids short and free of ':' (BullMQ rejects it in custom ids).
 */
export function batchJobId(
  kind: 'i' | 'r' | 's' | 'p' | 'd',
  messages: readonly { id: string }[],
  tag?: string | number,
): string {
  const h = createHash('sha1');
  for (const m of messages) h.update(m.id).update('\n');
  const id = `${kind}-${h.digest('base64url')}`;
  return tag === undefined ? id : `${id}-${String(tag).replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

export interface JobSpec {
  name: typeof JOB_NAME;
  data: JobData;
  opts: { jobId: string; delay?: number; attempts: 1; removeOnComplete: true; removeOnFail: true };
}

/** BullMQ addBulk entries for messages; `attempt` is each message's retry count. */
export function buildJobs(
  messages: readonly (StoredMessage | NewMessage)[],
  attemptOf: (m: StoredMessage | NewMessage) => number,
  limits: { batchSize: number; maxJobBytes: number },
  id: (chunk: JobMessage[]) => string,
  delay?: number,
): JobSpec[] {
  const jobMessages = messages.map((m) => toJobMessage(m, attemptOf(m)));
  return chunkJobMessages(jobMessages, limits.batchSize, limits.maxJobBytes).map((chunk) => ({
    name: JOB_NAME,
    data: { v: 1, messages: chunk },
    opts: {
      jobId: id(chunk),
      attempts: 1,
      removeOnComplete: true,
      removeOnFail: true,
      ...(delay && delay > 0 ? { delay } : {}),
    },
  }));
}

/** Retry delay of the n-th retry (n >= 1): backoff_ms doubling, capped at backoff_max_ms. */
export function retryDelayMs(retryCount: number, backoffMs: number, backoffMaxMs: number): number {
  const n = Math.max(1, retryCount);
  return Math.min(backoffMaxMs, backoffMs * 2 ** Math.min(n - 1, 30));
}
