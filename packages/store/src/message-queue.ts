import { MessageStatus } from '@fleet/protocol';
import type pg from 'pg';
import { ingest } from './ingest.js';
import { mirrorOpen } from './mirror-open.js';
import { persistParams } from './persist-params.js';
import { inIdOrder, type MessageRow, toStoredSorted } from './rows.js';
import { prepared, sql } from './sql.js';
import { toPgText } from './sql-text.js';
import type { NewMessage, StoredMessage } from './types.js';

/** countPending's default bound: past it the backlog is "at least a million", as the dead-letter count's. */
const COUNT_PENDING_BOUND = 1_000_000;

/**
 * The persistent queue API of the design (enqueue, dequeue_batch, mark_completed, mark_failed,
 * reprocess_failed, count_pending, save_offset, load_offset) over `messages` and `consumer_offsets`.
 * Each operation is one statement of ./sql (one transaction, one round trip; enqueue is the ingest
 * transaction of ./ingest.ts), named so each pooled
 * connection parses and plans it once. Concurrent callers (several persisters, several processes) are
 * safe: dequeue and reprocess lock the rows they take and skip rows another caller holds, and rows
 * changed by id are changed in id order. The persister's stream path uses PersistStore for its hot
 * statements; both keep `messages_open` in step with `messages` (change statuses only through them).
 */
export class MessageQueue {
  constructor(readonly pool: pg.Pool) {
    sql('dequeue_batch'); // reads the statement files now: a missing one fails at start-up, not mid-flow
  }

  /** Inserts one message unless its id is already stored; true when it is new (now PENDING). */
  async enqueue(msg: NewMessage): Promise<boolean> {
    const { values, invalid } = persistParams([msg], []);
    if (invalid.length > 0) return false;
    return (await ingest(this.pool, values)).length === 1;
  }

  /** Claims up to `limit` PENDING rows, oldest first, marking them PROCESSING; concurrent callers get disjoint rows. */
  async dequeueBatch(limit: number): Promise<StoredMessage[]> {
    await mirrorOpen(this.pool, 0); // dequeue reads messages_open: every batch persisted so far first
    const res = await this.pool.query<MessageRow>({ ...prepared('dequeue_batch'), values: [limit] });
    return toStoredSorted(res.rows);
  }

  /** PENDING / PROCESSING / FAILED -> COMPLETED. Returns rows changed. */
  async markCompleted(ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const res = await this.pool.query<{ n: number }>({
      ...prepared('mark_completed'),
      values: [inIdOrder(ids)],
    });
    return res.rows[0]?.n ?? 0;
  }

  /** PENDING / PROCESSING -> FAILED with `error`. Returns rows changed. */
  async markFailed(ids: string[], error: string): Promise<number> {
    if (ids.length === 0) return 0;
    const res = await this.pool.query<{ n: number }>({
      ...prepared('mark_failed'),
      values: [inIdOrder(ids), toPgText(error)],
    });
    return res.rows[0]?.n ?? 0;
  }

  /**
   * FAILED rows with retry_count < maxRetries -> PENDING with retry_count + 1 (returned for re-dispatch:
   * their job attempt is the new retryCount); the others -> DEAD. Takes at most `limit` rows per call
   * (call again while it returns `limit` rows); rows another caller is handling are skipped.
   */
  async reprocessFailed(
    maxRetries = 3,
    limit = 10_000,
  ): Promise<{ requeued: StoredMessage[]; dead: string[] }> {
    const res = await this.pool.query<MessageRow>({
      ...prepared('reprocess_failed'),
      values: [maxRetries, limit],
    });
    const rows = toStoredSorted(res.rows);
    return {
      requeued: rows.filter((r) => r.status === MessageStatus.PENDING),
      dead: rows.filter((r) => r.status === MessageStatus.DEAD).map((r) => r.id),
    };
  }

  /**
   * Rows waiting for a first or next attempt, exact up to `bound` (default 1,000,000); `bound` itself
   * means at least that many (a backlog of millions is not counted row by row).
   */
  async countPending(bound = COUNT_PENDING_BOUND): Promise<number> {
    const res = await this.pool.query<{ n: number }>({ ...prepared('count_pending'), values: [bound] });
    return Math.min(bound, res.rows[0]?.n ?? 0);
  }

  /** Sets the offset exactly (a replay may move it back). */
  async saveOffset(group: string, topic: string, offset: string): Promise<void> {
    await this.pool.query({ ...prepared('save_offset'), values: [group, topic, offset] });
  }

  /** The group's saved offset for `topic`, or null when none was ever saved. */
  async loadOffset(group: string, topic: string): Promise<string | null> {
    const res = await this.pool.query<{ offset: string }>({
      ...prepared('load_offset'),
      values: [group, topic],
    });
    return res.rows[0]?.offset ?? null;
  }
}
