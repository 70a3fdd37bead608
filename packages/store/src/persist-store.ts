import { MessageStatus } from '@fleet/protocol';
import type pg from 'pg';
import { MessageQueue } from './message-queue.js';
import { persistParams } from './persist-params.js';
import { inIdOrder, type MessageRow, toStored, toStoredSorted } from './rows.js';
import { AdvisoryLock } from './schema.js';
import { prepared, sql } from './sql.js';
import { isPgText, toPgJsonMap, toPgNumberArray, toPgText, toPgTextArray } from './sql-text.js';
import type { DeadEntry, NewMessage, OffsetUpdate, StatusUpdate, StoredMessage } from './types.js';

/**
 * The persister's statements over `messages`: the hot ones (persist a stream batch, apply worker
 * outcomes, sweep, retention) and the operator ones (durable-log replay, dead letters, dead entries).
 * The design's queue API is MessageQueue; the operations of it the persister also runs (reprocessFailed,
 * countPending, saveOffset, loadOffset) are forwarded to `queue`, so the persister holds one object.
 *
 * Every statement is a file of ./sql, parameterized, and every multi-row change is ONE statement (arrays
 * passed through unnest / ANY), hence one transaction and one round trip. Hot statements are named, so
 * each pooled connection parses and plans them once.
 *
 * Status changes are HOT updates (see the hot-status-updates migration): no index of `messages` names a
 * column they change. The rows that are not COMPLETED are indexed by status in `messages_open`, which
 * every statement keeps in step with `messages` in the same statement: a row enters it at insert,
 * follows each status change and leaves it when it becomes COMPLETED or is deleted. Change statuses only
 * through this class and MessageQueue (a hand-made UPDATE of messages.status leaves messages_open behind).
 *
 * Rows named by id are found through `unnest(ids) JOIN messages ON id` (a lookup per id on the unique
 * index). Rows changed by id are changed in id order (the caller's list is sorted; a nested loop over
 * the unique index locks them in that order) and rows picked by a scan are locked in seq order or
 * skipped (SKIP LOCKED), and inserts run in id order, so concurrent persisters do not deadlock each
 * other in practice; if Postgres ever reports one, the error is transient and the batch is retried.
 */

const STATUS_RANK: Record<MessageStatus, number> = {
  PENDING: 0,
  PROCESSING: 1,
  FAILED: 2,
  COMPLETED: 3,
  DEAD: 3,
};
const STATUSES = new Set<string>(Object.values(MessageStatus));

/** Most characters of one dead-entry field value kept (undecodable entries can be large binary). */
const DEAD_ENTRY_VALUE_MAX = 65_536;

export interface PersistResult {
  /** Ids actually inserted by this call (new rows); the others were already there. */
  inserted: string[];
  /** Ids of rows Postgres cannot store (NUL in a text field): not inserted; dead-letter their entries. */
  invalid: string[];
}

export interface ReadFromOptions {
  /** Only rows created at least this long ago: a tail reader stays behind transactions still committing
   *  (a seq is assigned at insert, so a lower seq can commit after a higher one). Default 0. */
  settleMs?: number;
}

/** SQLSTATE of a duplicate key. */
const UNIQUE_VIOLATION = '23505';
/** How long persistBatch stays on the idempotent statement after it met a duplicate id. */
const CONFLICT_MODE_MS = 10_000;

export class PersistStore {
  /** Until then persistBatch uses the idempotent statement (a duplicate id was seen recently). */
  private conflictsUntil = 0;
  /** The design's queue API on the same pool. */
  readonly queue: MessageQueue;

  constructor(readonly pool: pg.Pool) {
    this.queue = new MessageQueue(pool);
  }

  /**
   * Stream ingest: inserts the rows idempotently and saves the offsets, all in ONE statement, so both
   * commit or neither does. Idempotent by the unique id: a plain INSERT first, and when it meets a
   * duplicate (unique_violation, nothing committed) the same batch with ON CONFLICT (id) DO NOTHING.
   * Rows are inserted in id order (no deadlock between persisters replaying overlapping batches); a
   * repeated id in `rows` counts once; offsets of Redis stream ids only move forward.
   */
  async persistBatch(rows: NewMessage[], offsets: OffsetUpdate[]): Promise<PersistResult> {
    const { values, invalid } = persistParams(rows, offsets);
    // Duplicates are rare (replays, client resends) and come in bursts: the statement without the
    // conflict clause first, and after a duplicate the idempotent one for a while.
    if (Date.now() >= this.conflictsUntil) {
      try {
        const res = await this.pool.query<{ id: string }>({ ...prepared('persist_fresh_batch'), values });
        return { inserted: res.rows.map((r) => r.id), invalid };
      } catch (err) {
        if ((err as { code?: unknown }).code !== UNIQUE_VIOLATION) throw err;
        this.conflictsUntil = Date.now() + CONFLICT_MODE_MS;
      }
    }
    const res = await this.pool.query<{ id: string }>({ ...prepared('persist_batch'), values });
    return { inserted: res.rows.map((r) => r.id), invalid };
  }

  /**
   * Applies worker outcomes in one statement. Never moves a row out of COMPLETED or DEAD; ignores an
   * outcome whose attempt is older than the row's retry_count; within one attempt never lowers the
   * status (PENDING < PROCESSING < FAILED < COMPLETED = DEAD). Several outcomes for one id in the batch
   * collapse to the one that wins by those rules. Unknown statuses are dropped. Returns rows changed.
   */
  async applyStatuses(updates: StatusUpdate[]): Promise<number> {
    // In id order: concurrent calls lock shared rows in the same order.
    const winners = collapseStatusUpdates(updates).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    if (winners.length === 0) return 0;
    const res = await this.pool.query<{ n: number }>({
      ...prepared('apply_statuses'),
      values: [
        toPgTextArray(winners.map((u) => u.id)),
        toPgTextArray(winners.map((u) => u.status)),
        toPgTextArray(winners.map((u) => (u.error === undefined ? null : toPgText(u.error)))),
        toPgNumberArray(winners.map((u) => u.attempt)),
      ],
    });
    return res.rows[0]?.n ?? 0;
  }

  /** MessageQueue.reprocessFailed (the retry scheduler's step). */
  reprocessFailed(
    maxRetries?: number,
    limit?: number,
  ): Promise<{ requeued: StoredMessage[]; dead: string[] }> {
    return this.queue.reprocessFailed(maxRetries, limit);
  }

  /** MessageQueue.countPending. */
  countPending(): Promise<number> {
    return this.queue.countPending();
  }

  /** MessageQueue.saveOffset (sets the offset exactly: a replay may move it back). */
  saveOffset(group: string, topic: string, offset: string): Promise<void> {
    return this.queue.saveOffset(group, topic, offset);
  }

  /** MessageQueue.loadOffset. */
  loadOffset(group: string, topic: string): Promise<string | null> {
    return this.queue.loadOffset(group, topic);
  }

  /**
   * PENDING / PROCESSING rows not updated for `olderThanMs` (their job may be lost): re-dispatch candidates.
   * Claims them by touching updated_at, so the next sweep (here or in another persister) does not return
   * them again before another `olderThanMs` passes.
   */
  async sweepStale(olderThanMs: number, limit: number): Promise<StoredMessage[]> {
    const res = await this.pool.query<MessageRow>({
      ...prepared('sweep_stale'),
      values: [olderThanMs, limit],
    });
    return toStoredSorted(res.rows);
  }

  /**
   * sweepStale for named rows: those of `ids` that are first-attempt PENDING rows not updated for
   * `olderThanMs`, claimed by touching updated_at (the recovery of rows a batch found already inserted).
   */
  async sweepIds(ids: readonly string[], olderThanMs: number): Promise<StoredMessage[]> {
    if (ids.length === 0) return [];
    const res = await this.pool.query<MessageRow>({
      ...prepared('sweep_ids'),
      values: [toPgTextArray(inIdOrder(ids)), olderThanMs],
    });
    return toStoredSorted(res.rows);
  }

  /** The ids among `ids` that are still first-attempt PENDING rows (not updated for `olderThanMs`, if given). */
  async pendingIds(ids: readonly string[], olderThanMs?: number): Promise<string[]> {
    if (ids.length === 0) return [];
    const res = await this.pool.query<{ id: string }>({
      ...prepared('pending_ids'),
      values: [toPgTextArray([...ids]), olderThanMs ?? null],
    });
    return res.rows.map((r) => r.id);
  }

  /** Durable-log replay: rows with seq > afterSeq in seq order, optionally one topic only. */
  async readFrom(
    afterSeq: bigint | string,
    limit: number,
    topic?: string,
    opts: ReadFromOptions = {},
  ): Promise<StoredMessage[]> {
    const values: unknown[] = [String(afterSeq), limit, opts.settleMs ?? 0];
    const res =
      topic === undefined
        ? await this.pool.query<MessageRow>({ ...prepared('read_from'), values })
        : await this.pool.query<MessageRow>({ ...prepared('read_from_topic'), values: [...values, topic] });
    return res.rows.map(toStored);
  }

  /** DEAD rows, most recently dead first. */
  async listDead(opts: { limit: number; topic?: string }): Promise<StoredMessage[]> {
    const res =
      opts.topic === undefined
        ? await this.pool.query<MessageRow>(sql('list_dead'), [opts.limit])
        : await this.pool.query<MessageRow>(sql('list_dead_topic'), [opts.limit, opts.topic]);
    return res.rows.map(toStored);
  }

  /**
   * How many DEAD rows there are (of `topic`, if given), counting at most `bound` of them: `exact` is false
   * when there are more than `bound` (n is then `bound`). Bounded so a listing stays cheap whatever the
   * table's size.
   */
  async countDead(opts: { bound: number; topic?: string }): Promise<{ n: number; exact: boolean }> {
    const res =
      opts.topic === undefined
        ? await this.pool.query<{ n: number }>(sql('count_dead'), [opts.bound + 1])
        : await this.pool.query<{ n: number }>(sql('count_dead_topic'), [opts.bound + 1, opts.topic]);
    const n = res.rows[0]?.n ?? 0;
    return n > opts.bound ? { n: opts.bound, exact: false } : { n, exact: true };
  }

  /**
   * DEAD -> PENDING with retry_count + 1 (one more attempt), returned for re-dispatch. `'all'` takes at most
   * `limit` rows (default: all of them).
   */
  async replayDead(ids: string[] | 'all', limit?: number): Promise<StoredMessage[]> {
    if (ids !== 'all' && ids.length === 0) return [];
    const res =
      ids === 'all'
        ? await this.pool.query<MessageRow>(sql('replay_dead_all'), [limit ?? null])
        : await this.pool.query<MessageRow>(sql('replay_dead'), [inIdOrder(ids)]);
    return toStoredSorted(res.rows);
  }

  /** Deletes DEAD rows; `'all'` deletes in batches of 10,000 (short transactions). Returns rows deleted. */
  async purgeDead(ids: string[] | 'all'): Promise<number> {
    if (ids === 'all') return this.deleteInBatches(MessageStatus.DEAD, 0, 10_000);
    if (ids.length === 0) return 0;
    const res = await this.pool.query<{ n: number }>(sql('purge_dead'), [inIdOrder(ids)]);
    return res.rows[0]?.n ?? 0;
  }

  /** Keeps an undecodable stream entry for ops (once per stream entry). */
  async insertDeadEntry(
    stream: string,
    streamId: string,
    reason: string,
    fields: Record<string, string>,
  ): Promise<void> {
    await this.pool.query(sql('insert_dead_entry'), [
      toPgText(stream),
      toPgText(streamId),
      toPgText(reason),
      toPgJsonMap(fields, DEAD_ENTRY_VALUE_MAX),
    ]);
  }

  /** Undecodable stream entries, most recent first. */
  async listDeadEntries(limit: number): Promise<DeadEntry[]> {
    const res = await this.pool.query<{
      stream: string;
      stream_id: string;
      reason: string;
      fields: Record<string, string>;
      created_at: Date;
    }>(sql('list_dead_entries'), [limit]);
    return res.rows.map((r) => ({
      stream: r.stream,
      streamId: r.stream_id,
      reason: r.reason,
      fields: r.fields,
      createdAt: r.created_at,
    }));
  }

  /**
   * Retention: deletes COMPLETED rows older than completedMaxAgeS and DEAD rows (and dead stream entries)
   * older than deadMaxAgeS, `batch` rows per short transaction, so no long lock is ever held. One persister
   * at a time runs it (advisory lock); the others return 0 at once. Returns rows deleted.
   */
  async deleteExpired(completedMaxAgeS: number, deadMaxAgeS: number, batch: number): Promise<number> {
    const client = await this.pool.connect();
    let locked = false;
    let broken: Error | undefined;
    try {
      const got = await client.query<{ ok: boolean }>(sql('try_advisory_lock'), [AdvisoryLock.retention]);
      locked = got.rows[0]?.ok === true;
      if (!locked) return 0;
      let total = await this.deleteInBatches(MessageStatus.COMPLETED, completedMaxAgeS, batch, client);
      total += await this.deleteInBatches(MessageStatus.DEAD, deadMaxAgeS, batch, client);
      for (;;) {
        const res = await client.query(sql('delete_dead_entries'), [deadMaxAgeS, batch]);
        total += res.rowCount ?? 0;
        if ((res.rowCount ?? 0) < batch) break;
      }
      return total;
    } catch (err) {
      broken = err as Error;
      throw err;
    } finally {
      if (locked && !broken)
        await client.query(sql('advisory_unlock'), [AdvisoryLock.retention]).catch(() => {});
      // A failed client is destroyed, which also ends its session and so its advisory lock.
      client.release(broken);
    }
  }

  private async deleteInBatches(
    status: typeof MessageStatus.COMPLETED | typeof MessageStatus.DEAD,
    maxAgeS: number,
    batch: number,
    client: pg.ClientBase | pg.Pool = this.pool,
  ): Promise<number> {
    const completed = status === MessageStatus.COMPLETED;
    let total = 0;
    for (;;) {
      const res = await client.query<{ n: number }>({
        ...prepared(completed ? 'delete_completed_batch' : 'delete_dead_batch'),
        values: [maxAgeS, batch],
      });
      const n = completed ? (res.rowCount ?? 0) : (res.rows[0]?.n ?? 0);
      total += n;
      if (n < batch) return total;
    }
  }
}

/** One update per id: the newest attempt, then the higher status rank, then the later one in the input. */
export function collapseStatusUpdates(updates: StatusUpdate[]): StatusUpdate[] {
  const best = new Map<string, StatusUpdate>();
  for (const u of updates) {
    if (!STATUSES.has(u.status) || !Number.isInteger(u.attempt) || u.attempt < 0 || !isPgText(u.id)) continue;
    const cur = best.get(u.id);
    if (
      !cur ||
      u.attempt > cur.attempt ||
      (u.attempt === cur.attempt && STATUS_RANK[u.status] >= STATUS_RANK[cur.status])
    )
      best.set(u.id, u);
  }
  return [...best.values()];
}
