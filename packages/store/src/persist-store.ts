import { MessageStatus } from '@fleet/protocol';
import type pg from 'pg';
import { ingest } from './ingest.js';
import { MessageQueue } from './message-queue.js';
import { mirrorOpen } from './mirror-open.js';
import { persistParams } from './persist-params.js';
import { checkout } from './pool.js';
import { inIdOrder, type MessageRow, toStored, toStoredSorted } from './rows.js';
import { AdvisoryLock } from './schema.js';
import { prepared, type StatementName, sql } from './sql.js';
import { isPgText, toPgJsonMap, toPgNumberArray, toPgText, toPgTextArray } from './sql-text.js';
import type { DeadEntry, NewMessage, OffsetUpdate, StatusUpdate, StoredMessage } from './types.js';

/**
 * The persister's statements over `messages`: the hot ones (persist a stream batch, apply worker
 * outcomes, sweep, retention) and the operator ones (durable-log replay, dead letters, dead entries).
 * The design's queue API is MessageQueue; the operations of it the persister also runs (reprocessFailed,
 * countPending, saveOffset, loadOffset) are forwarded to `queue`, so the persister holds one object.
 *
 * Every statement is a file of ./sql, parameterized, and every multi-row change is ONE statement (arrays
 * passed through unnest / ANY), hence one transaction and one round trip; the ingest alone runs in a
 * transaction of its own (./ingest.ts: the log lock first). Hot statements are named, so each pooled
 * connection parses and plans them once. `messages` is partitioned (the partitioned-log migration;
 * maintainLog rolls, creates and drops the partitions).
 *
 * Status changes are HOT updates (see the hot-status-updates migration): no index of `messages` names a
 * column they change. The rows that are not COMPLETED are indexed by status in `messages_open`: a row
 * enters it when the sweep mirrors its batch (persisted before the sweep's age and still open:
 * mirror-open.ts) or when it becomes FAILED, DEAD or PROCESSING; every statement that changes a listed
 * row's status changes its entry in the same statement, and the entry leaves when the row becomes
 * COMPLETED or is deleted. Change statuses only through this class and MessageQueue (a hand-made UPDATE
 * of messages.status leaves messages_open behind).
 *
 * Rows named by id are found through `unnest(ids) JOIN messages ON id` (a lookup per id in each
 * partition's unique id index; worker outcomes look in the two newest partitions first). Rows changed by id are changed in id order (the caller's list is sorted; a nested loop over
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

/**
 * Partitions of `messages` kept created ahead of the current one (their DDL is done before need), detached
 * until the roll is due (the ahead-partitions-detached migration).
 */
const PARTITIONS_AHEAD = 2;
/**
 * lock_timeout of the log's maintenance statements: partition DDL and the roll queue for locks every
 * writer needs, and writers queue behind them, so they give up soon and the next run tries again.
 */
const MAINTENANCE_LOCK_TIMEOUT_MS = 1_000;

/** What maintainLog does: the partition interval and the retention ages (retention.* of the config). */
export interface LogMaintenance {
  /** New rows move to a new partition when the current one is this old. */
  partitionIntervalS: number;
  /** Partitions closed longer ago than this are dropped (their rows not COMPLETED are carried forward). */
  completedMaxAgeS: number;
  /** DEAD rows (and undecodable stream entries) older than this are deleted. */
  deadMaxAgeS: number;
  /** DEAD rows / dead entries deleted per short transaction. */
  batch: number;
}

/** What one maintainLog run did. */
export interface LogMaintenanceResult {
  /** False when another persister holds the maintenance lock (nothing was done). */
  ran: boolean;
  /** Partitions created ahead. */
  created: number;
  /** The partition new rows now go to, when this run moved them; otherwise null. */
  rolled: number | null;
  /** Partitions dropped, each with its estimated row count and the open rows carried forward. */
  dropped: { partition: number; rows: number; carried: number }[];
  /** DEAD rows deleted. */
  deadDeleted: number;
  /** Undecodable stream entries deleted. */
  deadEntriesDeleted: number;
}

/** One partition of `messages` (log_partitions.sql). */
export interface LogPartition {
  n: number;
  /** First seq (null: the first partition, from MINVALUE). */
  lo: string | null;
  hi: string;
  openedAt: Date | null;
  closedAt: Date | null;
  /** pg_class.reltuples: an estimate, -1 before the partition was first analyzed. */
  estRows: number;
}

/** Whether autovacuum can run for the message log (autovacuum_state.sql). */
export interface AutovacuumState {
  /** The server setting `autovacuum`. */
  autovacuum: boolean;
  /** The server setting `track_counts` (autovacuum finds nothing to do without it). */
  trackCounts: boolean;
  /** Partitions of `messages` and `messages_open` set `autovacuum_enabled = false`, by name. */
  tablesOff: string[];
}

export class PersistStore {
  /** The design's queue API on the same pool. */
  readonly queue: MessageQueue;

  constructor(readonly pool: pg.Pool) {
    this.queue = new MessageQueue(pool);
  }

  /**
   * Stream ingest: inserts the rows idempotently and saves the offsets in ONE statement (one
   * transaction: ./ingest.ts), so both commit or neither does. Idempotent by id within the duplicate
   * window (an id already in the current or the previous partition is skipped). Rows are inserted in id
   * order (no deadlock between persisters replaying overlapping batches); a repeated id in `rows` counts
   * once; offsets of Redis stream ids only move forward.
   */
  async persistBatch(rows: NewMessage[], offsets: OffsetUpdate[]): Promise<PersistResult> {
    const { values, invalid } = persistParams(rows, offsets);
    return { inserted: await ingest(this.pool, values), invalid };
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
    const values = (list: StatusUpdate[]) => [
      toPgTextArray(list.map((u) => u.id)),
      toPgTextArray(list.map((u) => u.status)),
      toPgTextArray(list.map((u) => (u.error === undefined ? null : toPgText(u.error)))),
      toPgNumberArray(
        list.map((u) => u.attempt),
        'int4',
      ),
    ];
    // The two newest partitions first (an id probe each, instead of one per partition; only the newest for
    // an id above the previous one's greatest); the rest, rare, where they are. Measured on 11 partitions:
    // 27 index pages touched per outcome before, 9 after.
    const res = await this.pool.query<{ n: number; missing: string[] }>({
      ...prepared('apply_statuses'),
      values: values(winners),
    });
    let n = res.rows[0]?.n ?? 0;
    const missing = res.rows[0]?.missing ?? [];
    if (missing.length > 0) {
      const want = new Set(missing);
      const rest = await this.pool.query<{ n: number }>({
        ...prepared('apply_statuses_anywhere'),
        values: values(winners.filter((u) => want.has(u.id))),
      });
      n += rest.rows[0]?.n ?? 0;
    }
    return n;
  }

  /** MessageQueue.reprocessFailed (the retry scheduler's step). */
  reprocessFailed(
    maxRetries?: number,
    limit?: number,
  ): Promise<{ requeued: StoredMessage[]; dead: string[] }> {
    return this.queue.reprocessFailed(maxRetries, limit);
  }

  /** MessageQueue.countPending. */
  countPending(bound?: number): Promise<number> {
    return this.queue.countPending(bound);
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
   * them again before another `olderThanMs` passes. The batches persisted before `olderThanMs` are first
   * mirrored into messages_open (mirror-open.ts): a row that old is in messages_open if it is open.
   */
  async sweepStale(olderThanMs: number, limit: number): Promise<StoredMessage[]> {
    await mirrorOpen(this.pool, olderThanMs);
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
    if (ids === 'all') return this.deleteInBatches('delete_dead_batch', 0, 10_000);
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
   * The log's maintenance and retention, one persister at a time (advisory lock; the others get
   * `ran: false` at once): creates partitions ahead (detached), attaches the next one and moves new rows to
   * it when the current one is `partitionIntervalS` old, drops the partitions closed more than
   * `completedMaxAgeS` ago (their rows not COMPLETED carried forward first), then deletes DEAD rows and dead
   * stream entries older than `deadMaxAgeS`, `batch` rows per short transaction. Each step is its own
   * transaction under a short lock_timeout; a step that times out fails the run, and the next run tries
   * again.
   */
  async maintainLog(m: LogMaintenance): Promise<LogMaintenanceResult> {
    const result: LogMaintenanceResult = {
      ran: false,
      created: 0,
      rolled: null,
      dropped: [],
      deadDeleted: 0,
      deadEntriesDeleted: 0,
    };
    const c = await checkout(this.pool);
    const client = c.client;
    let locked = false;
    let broken: Error | undefined;
    const step = async <R extends pg.QueryResultRow>(
      name: StatementName,
      values: unknown[],
    ): Promise<R[]> => {
      await client.query('BEGIN');
      try {
        await client.query(sql('set_lock_timeout'), [`${MAINTENANCE_LOCK_TIMEOUT_MS}ms`]);
        const res = await client.query<R>(sql(name), values);
        await client.query('COMMIT');
        return res.rows;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      }
    };
    try {
      const got = await client.query<{ ok: boolean }>(sql('try_advisory_lock'), [AdvisoryLock.retention]);
      locked = got.rows[0]?.ok === true;
      if (!locked) return result;
      result.ran = true;
      result.created += (await step<{ made: number }>('log_ensure', [PARTITIONS_AHEAD]))[0]?.made ?? 0;
      // The next partition is attached in a transaction of its own before the roll moves the sequence into
      // it (sql/log_attach.sql): the partitions ahead wait detached, so lookups by id do not probe them.
      await step('log_attach', [m.partitionIntervalS]);
      result.rolled =
        (await step<{ rolled: number | null }>('log_roll', [m.partitionIntervalS]))[0]?.rolled ?? null;
      if (result.rolled !== null)
        result.created += (await step<{ made: number }>('log_ensure', [PARTITIONS_AHEAD]))[0]?.made ?? 0;
      // Rows of a partition log_retire drops are carried forward when messages_open lists them: mirror the
      // batches of those partitions first (each closed before completedMaxAgeS, so its batches are older).
      await mirrorOpen(client, m.completedMaxAgeS * 1000);
      const dropped = await step<{ part: number; rows_dropped: string; carried: string }>('log_retire', [
        m.completedMaxAgeS,
      ]);
      result.dropped = dropped.map((d) => ({
        partition: d.part,
        rows: Number(d.rows_dropped),
        carried: Number(d.carried),
      }));
      result.deadDeleted = await this.deleteInBatches('delete_dead_batch', m.deadMaxAgeS, m.batch, client);
      result.deadEntriesDeleted = await this.deleteInBatches(
        'delete_dead_entries',
        m.deadMaxAgeS,
        m.batch,
        client,
      );
      return result;
    } catch (err) {
      broken = err as Error;
      throw err;
    } finally {
      if (locked && !broken && !c.lost())
        await client.query(sql('advisory_unlock'), [AdvisoryLock.retention]).catch(() => {});
      // A failed client is destroyed, which also ends its session and so its advisory lock.
      c.release(broken);
    }
  }

  /**
   * Runs a retention delete (`$1` max age in s, `$2` batch) until a run deletes fewer than `batch` rows:
   * short transactions. Returns rows deleted (the statement's `n`, or its command count).
   */
  private async deleteInBatches(
    name: 'delete_dead_batch' | 'delete_dead_entries',
    maxAgeS: number,
    batch: number,
    client: pg.ClientBase | pg.Pool = this.pool,
  ): Promise<number> {
    let total = 0;
    for (;;) {
      const res = await client.query<{ n: number }>({ ...prepared(name), values: [maxAgeS, batch] });
      const n = res.rows[0]?.n ?? res.rowCount ?? 0;
      total += n;
      if (n < batch) return total;
    }
  }

  /**
   * ANALYZEs the partition new rows go to once it holds 4 MB while its statistics say less
   * (sql/log_analyze_young.sql): the prepared ingest and status statements are then planned again, by id,
   * instead of keeping a plan made while it was nearly empty. The persister runs it every second; once the
   * statistics are of 4 MB or more it does nothing.
   */
  async analyzeYoungPartition(): Promise<void> {
    await this.pool.query(sql('log_analyze_young'));
  }

  /** The partitions of `messages`, oldest first (`fleet db status`, tests, benchmarks). */
  async logPartitions(): Promise<LogPartition[]> {
    const res = await this.pool.query<{
      n: number;
      lo: string | null;
      hi: string;
      opened_at: Date | null;
      closed_at: Date | null;
      est_rows: number | null;
    }>(sql('log_partitions'));
    return res.rows.map((r) => ({
      n: r.n,
      lo: r.lo,
      hi: r.hi,
      openedAt: r.opened_at,
      closedAt: r.closed_at,
      estRows: r.est_rows ?? -1,
    }));
  }

  /** Whether autovacuum can run for `messages` and `messages_open` (the persister checks it at start). */
  async autovacuumState(): Promise<AutovacuumState> {
    const res = await this.pool.query<{ autovacuum: boolean; track_counts: boolean; tables_off: string[] }>(
      sql('autovacuum_state'),
    );
    const r = res.rows[0]!;
    return { autovacuum: r.autovacuum, trackCounts: r.track_counts, tablesOff: r.tables_off };
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
