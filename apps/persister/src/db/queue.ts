import { MessageStatus } from '@fleet/protocol';
import type pg from 'pg';
import { AdvisoryLock, Table } from './schema.js';
import { isPgText, toPgJsonMap, toPgNumberArray, toPgText, toPgTextArray } from './sql-text.js';
import type { DeadEntry, NewMessage, OffsetUpdate, StatusUpdate, StoredMessage } from './types.js';

/**
 * The persistent queue: the design's operations over `messages` and `consumer_offsets`.
 * Every statement is parameterized and every multi-row change is ONE statement (arrays passed through
 * unnest / ANY), hence one transaction and one round trip. Hot statements are named, so each pooled
 * connection parses and plans them once.
 *
 * Status changes are HOT updates (see the hot-status-updates migration): no index of `messages` names a
 * column they change. The rows that are not COMPLETED are indexed by status in `messages_open`, which
 * every statement here keeps in step with `messages` in the same statement: a row enters it at insert,
 * follows each status change and leaves it when it becomes COMPLETED or is deleted. Change statuses only
 * through this class (a hand-made UPDATE of messages.status leaves messages_open behind).
 *
 * Rows named by id are found through `unnest(ids) JOIN messages ON id` (a lookup per id on the unique
 * index). Rows changed by id are changed in id order (the caller's list is sorted; a nested loop over
 * the unique index locks them in that order) and rows picked by a scan are locked in seq order or
 * skipped (SKIP LOCKED), and inserts run in id order, so concurrent persisters do not deadlock each
 * other in practice; if Postgres ever reports one, the error is transient and the batch is retried.
 */

const M = Table.messages;
const OPEN = Table.messagesOpen;
const O = Table.consumerOffsets;
const D = Table.deadEntries;

/** Columns read back into a StoredMessage, qualified with the table alias `a`. */
function cols(a: string): string {
  return `${a}.seq, ${a}.id, ${a}.stream_id, ${a}.topic, ${a}.type, ${a}.priority,
    round(extract(epoch FROM ${a}.sent_at) * 1000)::float8 AS sent_ms, ${a}.envelope, ${a}.headers,
    ${a}.traceparent, ${a}.reply_to, ${a}.status, ${a}.retry_count, ${a}.last_error, ${a}.created_at, ${a}.updated_at`;
}

interface MessageRow {
  seq: string;
  id: string;
  stream_id: string | null;
  topic: string;
  type: string;
  priority: number;
  sent_ms: number;
  envelope: Buffer;
  headers: Record<string, string>;
  traceparent: string | null;
  reply_to: string | null;
  status: MessageStatus;
  retry_count: number;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
}

function toStored(r: MessageRow): StoredMessage {
  const m: StoredMessage = {
    seq: r.seq,
    id: r.id,
    streamId: r.stream_id ?? '',
    envelope: r.envelope,
    topic: r.topic,
    type: r.type,
    priority: r.priority,
    timestamp: r.sent_ms,
    headers: r.headers,
    status: r.status,
    retryCount: r.retry_count,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
  if (r.traceparent !== null) m.traceparent = r.traceparent;
  if (r.reply_to !== null) m.replyTo = r.reply_to;
  if (r.last_error !== null) m.lastError = r.last_error;
  return m;
}

/** Rows in log order (RETURNING order is unspecified). */
function toStoredSorted(rows: MessageRow[]): StoredMessage[] {
  return rows.map(toStored).sort((a, b) => compareSeq(a.seq, b.seq));
}

function compareSeq(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

const STREAM_ID = /^(\d+)-(\d+)$/;

/** Orders Redis stream ids numerically (`9-0` < `10-0`); anything else compares as text. */
export function compareOffsets(a: string, b: string): number {
  const x = STREAM_ID.exec(a);
  const y = STREAM_ID.exec(b);
  if (x && y) {
    const d =
      BigInt(x[1] as string) - BigInt(y[1] as string) || BigInt(x[2] as string) - BigInt(y[2] as string);
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

// Rank of a status within one attempt: an outcome never moves a row to a lower rank.
const RANK = `CASE %s WHEN 'PENDING' THEN 0 WHEN 'PROCESSING' THEN 1 WHEN 'FAILED' THEN 2 ELSE 3 END`;
const rank = (expr: string) => RANK.replace('%s', expr);
const STATUS_RANK: Record<MessageStatus, number> = {
  PENDING: 0,
  PROCESSING: 1,
  FAILED: 2,
  COMPLETED: 3,
  DEAD: 3,
};
const STATUSES = new Set<string>(Object.values(MessageStatus));

/** Stream-id offsets only move forward in persistBatch (several persisters commit out of order). */
const OFFSET_FORWARD = `${O}."offset" !~ '^\\d+-\\d+$' OR EXCLUDED."offset" !~ '^\\d+-\\d+$'
  OR (split_part(EXCLUDED."offset", '-', 1)::numeric, split_part(EXCLUDED."offset", '-', 2)::numeric)
     >= (split_part(${O}."offset", '-', 1)::numeric, split_part(${O}."offset", '-', 2)::numeric)`;

/**
 * Picks up to `limit` rows through messages_open (`where` on its columns, `order` first) and locks their
 * `messages` rows, skipping rows another transaction holds. The lock sits in a LATERAL subquery, so
 * `messages` is only probed by seq for the rows taken, and the candidates are bounded (4x the limit), so
 * the plan stays an index scan of messages_open even with stale statistics (a table that grew fast since
 * its last analyze). Every statement locks a message's `messages` row before its messages_open row, so
 * pickers and status updates cannot deadlock each other.
 */
function pickOpen(where: string, messageStatus: string, limit: string, order?: string): string {
  const candidates = `SELECT seq FROM ${OPEN} WHERE ${where}${order ? ` ORDER BY ${order}` : ''} LIMIT ${limit} * 4 + 100`;
  return `SELECT m.seq FROM (${candidates}) o
      CROSS JOIN LATERAL (
        SELECT seq FROM ${M} WHERE seq = o.seq AND ${messageStatus} FOR UPDATE SKIP LOCKED) m
      LIMIT ${limit}`;
}

/** The CTE that copies status and updated_at of the rows the CTE `changed` returned into messages_open. */
function mirror(changed: string, filter = ''): string {
  return `mirrored AS (
      UPDATE ${OPEN} o SET status = ${changed}.status, updated_at = ${changed}.updated_at
      FROM ${changed} WHERE o.seq = ${changed}.seq${filter}
    )`;
}

/**
 * The ingest statement: rows (envelopes travel as ONE binary parameter, which node-postgres sends as a
 * Buffer in binary format, cut apart by offset/length arrays: a bytea[] would go as hex text, twice the
 * bytes and a slow parse), their messages_open rows and the offsets, in one statement.
 */
function persistBatchSql(onConflict: string): string {
  return `WITH ins AS (
      INSERT INTO ${M} (id, stream_id, topic, type, priority, sent_at, envelope, headers, traceparent, reply_to)
      SELECT u.id, u.stream_id, u.topic, u.type, u.priority, timestamptz 'epoch' + u.ts * interval '1 millisecond',
             substring($7::bytea FROM u.env_at FOR u.env_len), u.headers::jsonb, u.traceparent, u.reply_to
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::smallint[], $6::float8[], $14::int[], $15::int[],
                  $8::text[], $9::text[], $10::text[])
           AS u(id, stream_id, topic, type, priority, ts, env_at, env_len, headers, traceparent, reply_to)
      ${onConflict}
      RETURNING seq, id, updated_at
    ), opened AS (
      INSERT INTO ${OPEN} (seq, status, updated_at) SELECT seq, 'PENDING', updated_at FROM ins
    ), off AS (
      INSERT INTO ${O} (consumer_group, topic, "offset", updated_at)
      SELECT g, t, o, now() FROM unnest($11::text[], $12::text[], $13::text[]) AS x(g, t, o)
      ON CONFLICT (consumer_group, topic) DO UPDATE SET "offset" = EXCLUDED."offset", updated_at = EXCLUDED.updated_at
      WHERE ${OFFSET_FORWARD}
    )
    SELECT id FROM ins`;
}

const SQL = {
  persistBatch: persistBatchSql('ON CONFLICT (id) DO NOTHING'),
  // The same without the conflict clause: ~3 µs less per row (no speculative insertion); a duplicate id
  // makes it fail with unique_violation, and persistBatch falls back to the statement above.
  persistFreshBatch: persistBatchSql(''),
  dequeueBatch: `WITH picked AS MATERIALIZED (
      ${pickOpen("status = 'PENDING'", "status = 'PENDING'", '$1', 'updated_at')}
    ), moved AS (
      UPDATE ${M} m SET status = 'PROCESSING', updated_at = now()
      FROM picked WHERE m.seq = picked.seq AND m.status = 'PENDING'
      RETURNING ${cols('m')}
    ), ${mirror('moved')}
    SELECT * FROM moved`,
  markCompleted: `WITH up AS (
      UPDATE ${M} m SET status = 'COMPLETED', updated_at = now()
      FROM unnest($1::text[]) AS u(id)
      WHERE m.id = u.id AND m.status IN ('PENDING', 'PROCESSING', 'FAILED')
      RETURNING m.seq
    ), closed AS (
      DELETE FROM ${OPEN} o USING up WHERE o.seq = up.seq
    )
    SELECT count(*)::int AS n FROM up`,
  markFailed: `WITH up AS (
      UPDATE ${M} m SET status = 'FAILED', last_error = $2, updated_at = now()
      FROM unnest($1::text[]) AS u(id)
      WHERE m.id = u.id AND m.status IN ('PENDING', 'PROCESSING')
      RETURNING m.seq, m.status, m.updated_at
    ), ${mirror('up')}
    SELECT count(*)::int AS n FROM up`,
  // A row moves when it is not terminal, the outcome is not from an older attempt, and within the
  // same attempt the outcome does not rank lower (a late PROCESSING never undoes FAILED).
  // (Postgres re-checks the WHERE on the newest version of a row another transaction just changed.)
  applyStatuses: `WITH up AS (
      UPDATE ${M} m SET status = u.status,
        last_error = CASE WHEN u.status IN ('FAILED', 'DEAD') THEN u.error ELSE m.last_error END,
        retry_count = GREATEST(m.retry_count, u.attempt), updated_at = now()
      FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) AS u(id, status, error, attempt)
      WHERE m.id = u.id
        AND m.status NOT IN ('COMPLETED', 'DEAD') AND u.attempt >= m.retry_count
        AND (u.attempt > m.retry_count OR ${rank('u.status')} >= ${rank('m.status')})
      RETURNING m.seq, m.status, m.updated_at
    ), closed AS (
      DELETE FROM ${OPEN} o USING up WHERE o.seq = up.seq AND up.status = 'COMPLETED'
    ), ${mirror('up', " AND up.status <> 'COMPLETED'")}
    SELECT count(*)::int AS n FROM up`,
  reprocessFailed: `WITH f AS MATERIALIZED (
      ${pickOpen("status = 'FAILED'", "status = 'FAILED'", '$2', 'updated_at')}
    ), moved AS (
      UPDATE ${M} m SET
        status = CASE WHEN m.retry_count < $1 THEN 'PENDING' ELSE 'DEAD' END,
        retry_count = CASE WHEN m.retry_count < $1 THEN m.retry_count + 1 ELSE m.retry_count END,
        updated_at = now()
      FROM f WHERE m.seq = f.seq AND m.status = 'FAILED'
      RETURNING ${cols('m')}
    ), ${mirror('moved')}
    SELECT * FROM moved`,
  countPending: `SELECT count(*)::int AS n FROM ${OPEN} WHERE status = 'PENDING'`,
  saveOffset: `INSERT INTO ${O} (consumer_group, topic, "offset", updated_at) VALUES ($1, $2, $3, now())
    ON CONFLICT (consumer_group, topic) DO UPDATE SET "offset" = EXCLUDED."offset", updated_at = EXCLUDED.updated_at`,
  loadOffset: `SELECT "offset" FROM ${O} WHERE consumer_group = $1 AND topic = $2`,
  // The age test is repeated on the locked messages row: its lock re-checks the row's latest version, so
  // a row a concurrent sweep has just touched (and committed) is skipped, not returned twice (the
  // messages_open candidate is read from this statement's older snapshot).
  sweepStale: `WITH s AS MATERIALIZED (
      ${pickOpen(
        "status IN ('PENDING', 'PROCESSING') AND updated_at < now() - $1 * interval '1 millisecond'",
        "status IN ('PENDING', 'PROCESSING') AND updated_at < now() - $1 * interval '1 millisecond'",
        '$2',
      )}
    ), touched AS (
      UPDATE ${M} m SET updated_at = now()
      FROM s WHERE m.seq = s.seq AND m.status IN ('PENDING', 'PROCESSING')
      RETURNING ${cols('m')}
    ), ${mirror('touched')}
    SELECT * FROM touched`,
  // First-attempt PENDING rows among given ids (sorted by the caller: locked in id order), claimed like
  // sweepStale by touching updated_at, so a concurrent or repeated pass does not return them again.
  sweepIds: `WITH touched AS (
      UPDATE ${M} m SET updated_at = now()
      FROM unnest($1::text[]) AS u(id)
      WHERE m.id = u.id AND m.status = 'PENDING' AND m.retry_count = 0
        AND m.updated_at < now() - $2 * interval '1 millisecond'
      RETURNING ${cols('m')}
    ), ${mirror('touched')}
    SELECT * FROM touched`,
  // Which of the given ids are still first-attempt PENDING rows (the others need no more watching),
  // optionally only those not updated for $2 ms.
  pendingIds: `SELECT m.id FROM unnest($1::text[]) AS u(id) JOIN ${M} m ON m.id = u.id
    WHERE m.status = 'PENDING' AND m.retry_count = 0
      AND ($2::float8 IS NULL OR m.updated_at < now() - $2 * interval '1 millisecond')`,
  readFrom: `SELECT ${cols('m')} FROM ${M} m
    WHERE m.seq > $1 AND m.created_at <= now() - $3 * interval '1 millisecond' ORDER BY m.seq LIMIT $2`,
  readFromTopic: `SELECT ${cols('m')} FROM ${M} m
    WHERE m.topic = $4 AND m.seq > $1 AND m.created_at <= now() - $3 * interval '1 millisecond' ORDER BY m.seq LIMIT $2`,
  listDead: `SELECT ${cols('m')} FROM ${OPEN} o JOIN ${M} m ON m.seq = o.seq
    WHERE o.status = 'DEAD' AND m.status = 'DEAD' ORDER BY o.updated_at DESC LIMIT $1`,
  listDeadTopic: `SELECT ${cols('m')} FROM ${OPEN} o JOIN ${M} m ON m.seq = o.seq
    WHERE o.status = 'DEAD' AND m.status = 'DEAD' AND m.topic = $2 ORDER BY o.updated_at DESC LIMIT $1`,
  // A replay is one more attempt: retry_count + 1 keeps outcomes of the old attempts stale.
  replayDead: `WITH moved AS (
      UPDATE ${M} m SET status = 'PENDING', retry_count = m.retry_count + 1, updated_at = now()
      FROM unnest($1::text[]) AS u(id) WHERE m.id = u.id AND m.status = 'DEAD'
      RETURNING ${cols('m')}
    ), ${mirror('moved')}
    SELECT * FROM moved`,
  replayDeadAll: `WITH d AS MATERIALIZED (
      ${pickOpen("status = 'DEAD'", "status = 'DEAD'", '$1', 'seq')}
    ), moved AS (
      UPDATE ${M} m SET status = 'PENDING', retry_count = m.retry_count + 1, updated_at = now()
      FROM d WHERE m.seq = d.seq AND m.status = 'DEAD'
      RETURNING ${cols('m')}
    ), ${mirror('moved')}
    SELECT * FROM moved`,
  purgeDead: `WITH del AS (
      DELETE FROM ${M} m USING unnest($1::text[]) AS u(id) WHERE m.id = u.id AND m.status = 'DEAD'
      RETURNING m.seq
    ), closed AS (
      DELETE FROM ${OPEN} o USING del WHERE o.seq = del.seq
    )
    SELECT count(*)::int AS n FROM del`,
  // Retention. COMPLETED rows: the oldest by created_at (an updated_at this old implies a created_at as
  // old); DEAD rows: through messages_open. ctid = ANY(ARRAY(...)) keeps the delete a TID scan of exactly
  // the picked rows; the outer WHERE re-checks them in case one changed between the pick and the delete.
  deleteCompletedBatch: `DELETE FROM ${M} WHERE ctid = ANY(ARRAY(
      SELECT ctid FROM ${M} WHERE created_at <= now() - $1 * interval '1 second'
        AND status = 'COMPLETED' AND updated_at <= now() - $1 * interval '1 second'
      ORDER BY created_at LIMIT $2))
    AND status = 'COMPLETED' AND updated_at <= now() - $1 * interval '1 second'`,
  deleteDeadBatch: `WITH del AS (
      DELETE FROM ${M} WHERE ctid = ANY(ARRAY(
        SELECT m.ctid FROM ${OPEN} o JOIN ${M} m ON m.seq = o.seq
        WHERE o.status = 'DEAD' AND o.updated_at <= now() - $1 * interval '1 second' LIMIT $2))
      AND status = 'DEAD' AND updated_at <= now() - $1 * interval '1 second'
      RETURNING seq
    ), closed AS (
      DELETE FROM ${OPEN} o USING del WHERE o.seq = del.seq
    )
    SELECT count(*)::int AS n FROM del`,
  deleteDeadEntries: `DELETE FROM ${D} WHERE ctid = ANY(ARRAY(
      SELECT ctid FROM ${D} WHERE created_at < now() - $1 * interval '1 second' LIMIT $2))`,
  insertDeadEntry: `INSERT INTO ${D} (stream, stream_id, reason, fields) VALUES ($1, $2, $3, $4::jsonb)
    ON CONFLICT (stream, stream_id) DO NOTHING`,
  listDeadEntries: `SELECT stream, stream_id, reason, fields, created_at FROM ${D} ORDER BY created_at DESC LIMIT $1`,
} as const;

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

/** Ids sorted: statements that change rows by id lock them in this order, so concurrent calls cannot deadlock. */
function inIdOrder(ids: readonly string[]): string[] {
  return [...ids].sort();
}

/** SQLSTATE of a duplicate key. */
const UNIQUE_VIOLATION = '23505';
/** How long persistBatch stays on the idempotent statement after it met a duplicate id. */
const CONFLICT_MODE_MS = 10_000;

export class PersistentQueue {
  /** Until then persistBatch uses the idempotent statement (a duplicate id was seen recently). */
  private conflictsUntil = 0;

  constructor(readonly pool: pg.Pool) {}

  /**
   * Stream ingest: inserts the rows idempotently and saves the offsets, all in ONE statement, so both
   * commit or neither does. Idempotent by the unique id: a plain INSERT first, and when it meets a
   * duplicate (unique_violation, nothing committed) the same batch with ON CONFLICT (id) DO NOTHING.
   * Rows are inserted in id order (no deadlock between persisters replaying overlapping batches); a
   * repeated id in `rows` counts once; offsets of Redis stream ids only move forward.
   */
  async persistBatch(rows: NewMessage[], offsets: OffsetUpdate[]): Promise<PersistResult> {
    const invalid = new Set<string>();
    const byId = new Map<string, NewMessage>();
    for (const r of rows) {
      if (byId.has(r.id) || invalid.has(r.id)) continue;
      if (
        !isPgText(r.id) ||
        !isPgText(r.topic) ||
        !isPgText(r.type) ||
        !isPgText(r.streamId) ||
        !isPgText(r.replyTo ?? '')
      ) {
        invalid.add(r.id);
        continue;
      }
      byId.set(r.id, r);
    }
    const ids = [...byId.keys()].sort();
    const n = ids.length;
    const streamIds = new Array<string>(n);
    const topics = new Array<string>(n);
    const types = new Array<string>(n);
    const priorities = new Array<number>(n);
    const timestamps = new Array<number>(n);
    const envelopes = new Array<Buffer>(n);
    const envAt = new Array<number>(n);
    const envLen = new Array<number>(n);
    let at = 1; // substring() positions are 1-based
    const headers = new Array<string>(n);
    const traceparents = new Array<string | null>(n);
    const replyTos = new Array<string | null>(n);
    for (let i = 0; i < n; i++) {
      const r = byId.get(ids[i] as string) as NewMessage;
      streamIds[i] = r.streamId;
      topics[i] = r.topic;
      types[i] = r.type;
      priorities[i] = r.priority;
      timestamps[i] = r.timestamp;
      envelopes[i] = r.envelope;
      envAt[i] = at;
      envLen[i] = r.envelope.length;
      at += r.envelope.length;
      headers[i] = toPgJsonMap(r.headers);
      traceparents[i] = r.traceparent !== undefined && isPgText(r.traceparent) ? r.traceparent : null;
      replyTos[i] = r.replyTo ?? null;
    }
    const off = latestOffsets(offsets);
    const values = [
      toPgTextArray(ids),
      toPgTextArray(streamIds),
      toPgTextArray(topics),
      toPgTextArray(types),
      toPgNumberArray(priorities),
      toPgNumberArray(timestamps),
      Buffer.concat(envelopes, at - 1),
      toPgTextArray(headers),
      toPgTextArray(traceparents),
      toPgTextArray(replyTos),
      off.map((o) => o.group),
      off.map((o) => o.topic),
      off.map((o) => o.offset),
      toPgNumberArray(envAt),
      toPgNumberArray(envLen),
    ];
    // Duplicates are rare (replays, client resends) and come in bursts: the statement without the
    // conflict clause first, and after a duplicate the idempotent one for a while.
    if (Date.now() >= this.conflictsUntil) {
      try {
        const res = await this.pool.query<{ id: string }>({
          name: 'fleet_persist_fresh_batch',
          text: SQL.persistFreshBatch,
          values,
        });
        return { inserted: res.rows.map((r) => r.id), invalid: [...invalid] };
      } catch (err) {
        if ((err as { code?: unknown }).code !== UNIQUE_VIOLATION) throw err;
        this.conflictsUntil = Date.now() + CONFLICT_MODE_MS;
      }
    }
    const res = await this.pool.query<{ id: string }>({
      name: 'fleet_persist_batch',
      text: SQL.persistBatch,
      values,
    });
    return { inserted: res.rows.map((r) => r.id), invalid: [...invalid] };
  }

  /** The design's single enqueue: true when the message is new. */
  async enqueue(msg: NewMessage): Promise<boolean> {
    const { inserted } = await this.persistBatch([msg], []);
    return inserted.length === 1;
  }

  /** Claims up to `limit` PENDING rows, oldest first, marking them PROCESSING; concurrent callers get disjoint rows. */
  async dequeueBatch(limit: number): Promise<StoredMessage[]> {
    const res = await this.pool.query<MessageRow>({
      name: 'fleet_dequeue_batch',
      text: SQL.dequeueBatch,
      values: [limit],
    });
    return toStoredSorted(res.rows);
  }

  /** PENDING / PROCESSING / FAILED -> COMPLETED. Returns rows changed. */
  async markCompleted(ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const res = await this.pool.query<{ n: number }>({
      name: 'fleet_mark_completed',
      text: SQL.markCompleted,
      values: [inIdOrder(ids)],
    });
    return res.rows[0]?.n ?? 0;
  }

  /** PENDING / PROCESSING -> FAILED with `error`. Returns rows changed. */
  async markFailed(ids: string[], error: string): Promise<number> {
    if (ids.length === 0) return 0;
    const res = await this.pool.query<{ n: number }>({
      name: 'fleet_mark_failed',
      text: SQL.markFailed,
      values: [inIdOrder(ids), toPgText(error)],
    });
    return res.rows[0]?.n ?? 0;
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
      name: 'fleet_apply_statuses',
      text: SQL.applyStatuses,
      values: [
        toPgTextArray(winners.map((u) => u.id)),
        toPgTextArray(winners.map((u) => u.status)),
        toPgTextArray(winners.map((u) => (u.error === undefined ? null : toPgText(u.error)))),
        toPgNumberArray(winners.map((u) => u.attempt)),
      ],
    });
    return res.rows[0]?.n ?? 0;
  }

  /**
   * FAILED rows with retry_count < maxRetries -> PENDING with retry_count + 1 (returned for re-dispatch:
   * their job attempt is the new retryCount); the others -> DEAD. Takes at most `limit` rows per call
   * (call again while it returns `limit` rows); rows another persister is handling are skipped.
   */
  async reprocessFailed(
    maxRetries = 3,
    limit = 10_000,
  ): Promise<{ requeued: StoredMessage[]; dead: string[] }> {
    const res = await this.pool.query<MessageRow>({
      name: 'fleet_reprocess_failed',
      text: SQL.reprocessFailed,
      values: [maxRetries, limit],
    });
    const rows = toStoredSorted(res.rows);
    return {
      requeued: rows.filter((r) => r.status === MessageStatus.PENDING),
      dead: rows.filter((r) => r.status === MessageStatus.DEAD).map((r) => r.id),
    };
  }

  async countPending(): Promise<number> {
    const res = await this.pool.query<{ n: number }>({ name: 'fleet_count_pending', text: SQL.countPending });
    return res.rows[0]?.n ?? 0;
  }

  /** Sets the offset exactly (a replay may move it back). */
  async saveOffset(group: string, topic: string, offset: string): Promise<void> {
    await this.pool.query({
      name: 'fleet_save_offset',
      text: SQL.saveOffset,
      values: [group, topic, offset],
    });
  }

  async loadOffset(group: string, topic: string): Promise<string | null> {
    const res = await this.pool.query<{ offset: string }>({
      name: 'fleet_load_offset',
      text: SQL.loadOffset,
      values: [group, topic],
    });
    return res.rows[0]?.offset ?? null;
  }

  /**
   * PENDING / PROCESSING rows not updated for `olderThanMs` (their job may be lost): re-dispatch candidates.
   * Claims them by touching updated_at, so the next sweep (here or in another persister) does not return
   * them again before another `olderThanMs` passes.
   */
  async sweepStale(olderThanMs: number, limit: number): Promise<StoredMessage[]> {
    const res = await this.pool.query<MessageRow>({
      name: 'fleet_sweep_stale',
      text: SQL.sweepStale,
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
      name: 'fleet_sweep_ids',
      text: SQL.sweepIds,
      values: [toPgTextArray([...ids].sort()), olderThanMs],
    });
    return toStoredSorted(res.rows);
  }

  /** The ids among `ids` that are still first-attempt PENDING rows (not updated for `olderThanMs`, if given). */
  async pendingIds(ids: readonly string[], olderThanMs?: number): Promise<string[]> {
    if (ids.length === 0) return [];
    const res = await this.pool.query<{ id: string }>({
      name: 'fleet_pending_ids',
      text: SQL.pendingIds,
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
        ? await this.pool.query<MessageRow>({ name: 'fleet_read_from', text: SQL.readFrom, values })
        : await this.pool.query<MessageRow>({
            name: 'fleet_read_from_topic',
            text: SQL.readFromTopic,
            values: [...values, topic],
          });
    return res.rows.map(toStored);
  }

  /** DEAD rows, most recently dead first. */
  async listDead(opts: { limit: number; topic?: string }): Promise<StoredMessage[]> {
    const res =
      opts.topic === undefined
        ? await this.pool.query<MessageRow>(SQL.listDead, [opts.limit])
        : await this.pool.query<MessageRow>(SQL.listDeadTopic, [opts.limit, opts.topic]);
    return res.rows.map(toStored);
  }

  /**
   * DEAD -> PENDING with retry_count + 1 (one more attempt), returned for re-dispatch. `'all'` takes at most
   * `limit` rows (default: all of them).
   */
  async replayDead(ids: string[] | 'all', limit?: number): Promise<StoredMessage[]> {
    if (ids !== 'all' && ids.length === 0) return [];
    const res =
      ids === 'all'
        ? await this.pool.query<MessageRow>(SQL.replayDeadAll, [limit ?? null])
        : await this.pool.query<MessageRow>(SQL.replayDead, [inIdOrder(ids)]);
    return toStoredSorted(res.rows);
  }

  /** Deletes DEAD rows; `'all'` deletes in batches of 10,000 (short transactions). Returns rows deleted. */
  async purgeDead(ids: string[] | 'all'): Promise<number> {
    if (ids === 'all') return this.deleteInBatches(MessageStatus.DEAD, 0, 10_000);
    if (ids.length === 0) return 0;
    const res = await this.pool.query<{ n: number }>(SQL.purgeDead, [inIdOrder(ids)]);
    return res.rows[0]?.n ?? 0;
  }

  /** Keeps an undecodable stream entry for ops (once per stream entry). */
  async insertDeadEntry(
    stream: string,
    streamId: string,
    reason: string,
    fields: Record<string, string>,
  ): Promise<void> {
    await this.pool.query(SQL.insertDeadEntry, [
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
    }>(SQL.listDeadEntries, [limit]);
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
      const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [
        AdvisoryLock.retention,
      ]);
      locked = got.rows[0]?.ok === true;
      if (!locked) return 0;
      let total = await this.deleteInBatches(MessageStatus.COMPLETED, completedMaxAgeS, batch, client);
      total += await this.deleteInBatches(MessageStatus.DEAD, deadMaxAgeS, batch, client);
      for (;;) {
        const res = await client.query(SQL.deleteDeadEntries, [deadMaxAgeS, batch]);
        total += res.rowCount ?? 0;
        if ((res.rowCount ?? 0) < batch) break;
      }
      return total;
    } catch (err) {
      broken = err as Error;
      throw err;
    } finally {
      if (locked && !broken)
        await client.query('SELECT pg_advisory_unlock($1)', [AdvisoryLock.retention]).catch(() => {});
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
        name: completed ? 'fleet_delete_completed_batch' : 'fleet_delete_dead_batch',
        text: completed ? SQL.deleteCompletedBatch : SQL.deleteDeadBatch,
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

/** One offset per (group, topic): the furthest; in key order so concurrent upserts lock rows alike. */
function latestOffsets(offsets: OffsetUpdate[]): OffsetUpdate[] {
  const best = new Map<string, OffsetUpdate>();
  for (const o of offsets) {
    const key = `${o.group}\u0000${o.topic}`;
    const cur = best.get(key);
    if (!cur || compareOffsets(o.offset, cur.offset) >= 0) best.set(key, o);
  }
  return [...best.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o);
}
