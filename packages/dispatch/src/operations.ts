import type { PersistStore, StoredMessage } from '@fleet/store';
import type { Dispatcher } from './dispatcher.js';

/**
 * Operator actions shared by the persister's ops HTTP server and the `fleet` CLI: the store changes the
 * rows and the dispatcher enqueues their jobs at once (`p-` / `d-` job ids), so a replay runs as soon as
 * a worker is free, with or without a persister running.
 */

/** The store operations the operator actions use (PersistStore has them; tests may pass any). */
export type OpsStore = Pick<
  PersistStore,
  'loadOffset' | 'saveOffset' | 'readFrom' | 'listDead' | 'countDead' | 'replayDead' | 'purgeDead'
>;

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
  store: OpsStore,
  dispatcher: Dispatcher,
  opts: { group: string; topic: string; from?: string; pageSize?: number; limit?: number },
): Promise<ReplayResult> {
  const page = opts.pageSize ?? 1_000;
  const started = Date.now().toString(36);
  let after = opts.from ?? (await store.loadOffset(opts.group, opts.topic)) ?? '0';
  let replayed = 0;
  while (opts.limit === undefined || replayed < opts.limit) {
    const n = opts.limit === undefined ? page : Math.min(page, opts.limit - replayed);
    const rows = await store.readFrom(after, n, opts.topic);
    if (rows.length === 0) break;
    // The request's start time in the tag: replaying a range again (--from) is a new job even while the
    // first replay's finished jobs are kept (queue.keep_completed).
    await dispatcher.dispatchReplay('p', rows, `${opts.group}.${after}.${started}`);
    after = rows[rows.length - 1]!.seq;
    await store.saveOffset(opts.group, opts.topic, after);
    replayed += rows.length;
    if (rows.length < n) break;
  }
  return { replayed, offset: after };
}

export function listDeadLetters(
  store: OpsStore,
  opts: { limit?: number; topic?: string },
): Promise<StoredMessage[]> {
  return store.listDead({ limit: opts.limit ?? 100, ...(opts.topic ? { topic: opts.topic } : {}) });
}

/**
 * Most DEAD rows counted for a total: counting stops there and the total reads "at least" (a bounded walk
 * of messages_open's status index; with a topic each row is also looked up in messages, hence the lower bound).
 */
export const DEAD_COUNT_BOUND = 1_000_000;
export const DEAD_COUNT_BOUND_TOPIC = 100_000;

/** The number of dead letters (of `topic`, if given): exact, or a lower bound when `exact` is false. */
export function countDeadLetters(
  store: OpsStore,
  opts: { topic?: string },
): Promise<{ n: number; exact: boolean }> {
  return opts.topic
    ? store.countDead({ bound: DEAD_COUNT_BOUND_TOPIC, topic: opts.topic })
    : store.countDead({ bound: DEAD_COUNT_BOUND });
}

/** DEAD -> PENDING (done by the store) and a fresh job for each; returns the ids replayed. */
export async function replayDeadLetters(
  store: OpsStore,
  dispatcher: Dispatcher,
  ids: string[] | 'all',
): Promise<string[]> {
  const rows = await store.replayDead(ids);
  await dispatcher.dispatchReplay('d', rows, Date.now().toString(36));
  return rows.map((r) => r.id);
}

export function purgeDeadLetters(store: OpsStore, ids: string[] | 'all'): Promise<number> {
  return store.purgeDead(ids);
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
