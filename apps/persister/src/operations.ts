import type { Dispatcher } from './dispatcher.js';
import type { QueueApi, StoredMessage } from './queue-api.js';

/** Operator actions shared by the ops HTTP server and the `fleet` CLI. */

export interface ReplayResult {
  replayed: number;
  /** Last `messages.seq` replayed (the group's saved offset), or the starting point if nothing was left. */
  offset: string;
}

/**
 * Re-enqueues the durable log for a consumer group: rows of `topic` after `from` (default: the group's
 * saved offset, else the beginning), saving progress after each page so an interrupted replay resumes.
 */
export async function replayRange(
  queue: QueueApi,
  dispatcher: Dispatcher,
  opts: { group: string; topic: string; from?: string; pageSize?: number; limit?: number },
): Promise<ReplayResult> {
  const page = opts.pageSize ?? 1_000;
  let after = opts.from ?? (await queue.loadOffset(opts.group, opts.topic)) ?? '0';
  let replayed = 0;
  while (opts.limit === undefined || replayed < opts.limit) {
    const n = opts.limit === undefined ? page : Math.min(page, opts.limit - replayed);
    const rows = await queue.readFrom(after, n, opts.topic);
    if (rows.length === 0) break;
    await dispatcher.dispatchReplay('p', rows, `${opts.group}.${after}`);
    after = rows[rows.length - 1]!.seq;
    await queue.saveOffset(opts.group, opts.topic, after);
    replayed += rows.length;
    if (rows.length < n) break;
  }
  return { replayed, offset: after };
}

export function listDeadLetters(
  queue: QueueApi,
  opts: { limit?: number; topic?: string },
): Promise<StoredMessage[]> {
  return queue.listDead({ limit: opts.limit ?? 100, ...(opts.topic ? { topic: opts.topic } : {}) });
}

/** DEAD -> PENDING (done by the queue API) and a fresh job for each; returns the ids replayed. */
export async function replayDeadLetters(
  queue: QueueApi,
  dispatcher: Dispatcher,
  ids: string[] | 'all',
): Promise<string[]> {
  const rows = await queue.replayDead(ids);
  await dispatcher.dispatchReplay('d', rows, Date.now().toString(36));
  return rows.map((r) => r.id);
}

export function purgeDeadLetters(queue: QueueApi, ids: string[] | 'all'): Promise<number> {
  return queue.purgeDead(ids);
}

/** JSON shape of a dead letter for ops output (envelope bytes as base64). */
export function deadLetterView(m: StoredMessage): Record<string, unknown> {
  return {
    id: m.id,
    topic: m.topic,
    type: m.type,
    status: m.status,
    retryCount: m.retryCount,
    lastError: m.lastError ?? null,
    createdAt: m.createdAt,
    updatedAt: m.updatedAt,
    traceparent: m.traceparent ?? null,
    envelope: m.envelope.toString('base64'),
  };
}
