import { createHash } from 'node:crypto';
import {
  encodeJobData,
  encodeJobMessage,
  JOB_NAME,
  type JobData,
  type JobMessage,
  sharedTraceMark,
} from '@fleet/protocol';
import type { NewMessage, StoredMessage } from '@fleet/store';

/** Bytes one message adds to its job's data (JSON of its fields): the chunking bound and the memory estimate. */
export function jobMessageBytes(m: JobMessage): number {
  return m.e.length + m.id.length + (m.t?.length ?? 0) + (m.r?.length ?? 0) + 32;
}

/**
 * Redis memory one job costs besides its messages (estimate): its hash's other fields and opts, the
 * wait-list entry, the events-stream entry, key overheads. Rounded up: it only has to keep the persister's
 * memory gate on the safe side between two INFO samples (apps/persister/src/dispatch-gate.ts).
 */
export const JOB_OVERHEAD_BYTES = 1024;

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
    const size = jobMessageBytes(m);
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
 * Finished jobs may be kept (queue.keep_completed / keep_failed): an id then stays taken after its job ran,
 * so every dispatch that must run again carries what makes it new in its tag: the retry count (`r`), the
 * claim time of the sweep (`s`), the request (`p`, `d`); only the first delivery (`i`) has none.
 */
export function batchJobId(
  kind: 'i' | 'r' | 's' | 'p' | 'd',
  messages: readonly { id: string }[],
  tag?: string | number,
): string {
  // One update of the joined ids, not two per message: the same bytes hashed, so the same ids; ~45 against
  // ~140 ns per message for jobs of 100 (node 24, micro, 2026-12-07).
  let text = '';
  for (const m of messages) text += `${m.id}\n`;
  const id = `${kind}-${createHash('sha1').update(text).digest('base64url')}`;
  return tag === undefined ? id : `${id}-${String(tag).replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

/** How many finished jobs a queue keeps and for how long (BullMQ's KeepJobs); count 0 = none. */
export interface KeepFinished {
  count: number;
  ageS: number;
}

/** BullMQ's removeOnComplete / removeOnFail for a KeepFinished: `true` (remove at once) when none are kept. */
export function keepOption(keep: KeepFinished | undefined): true | { count: number; age: number } {
  return !keep || keep.count <= 0 ? true : { count: keep.count, age: keep.ageS };
}

export interface JobSpec {
  name: typeof JOB_NAME;
  data: JobData;
  opts: {
    jobId: string;
    delay?: number;
    timestamp?: number;
    attempts: 1;
    removeOnComplete: ReturnType<typeof keepOption>;
    removeOnFail: ReturnType<typeof keepOption>;
  };
}

/**
 * BullMQ addBulk entries for messages; `attempt` is each message's retry count. `since` (ms) becomes the
 * jobs' creation time instead of the moment of the add: the start of the work that committed or claimed
 * the rows (see Dispatcher.dispatchNew). Never with `delay` (BullMQ counts a delay from the timestamp).
 */
export function buildJobs(
  messages: readonly (StoredMessage | NewMessage)[],
  attemptOf: (m: StoredMessage | NewMessage) => number,
  limits: { batchSize: number; maxJobBytes: number; keepCompleted?: KeepFinished; keepFailed?: KeepFinished },
  id: (chunk: JobMessage[]) => string,
  delay?: number,
  since?: number,
): JobSpec[] {
  // Messages that all carry the same derived mark (traced under their ids: the usual batch) carry it once
  // per job (JobData.t); so do the chunks of such a batch.
  const mark = sharedTraceMark(messages);
  const jobMessages = messages.map((m) => encodeJobMessage(m, attemptOf(m), mark));
  return chunkJobMessages(jobMessages, limits.batchSize, limits.maxJobBytes).map((chunk) => ({
    name: JOB_NAME,
    data: encodeJobData(chunk, mark),
    opts: {
      jobId: id(chunk),
      attempts: 1,
      removeOnComplete: keepOption(limits.keepCompleted),
      removeOnFail: keepOption(limits.keepFailed),
      ...(delay && delay > 0 ? { delay } : since !== undefined ? { timestamp: since } : {}),
    },
  }));
}
