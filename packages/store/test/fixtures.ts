import { randomUUID } from 'node:crypto';
import { type Envelope, encodeEnvelope } from '@fleet/protocol';
import pg from 'pg';
import { freshDatabase, maxPoolSize } from '../../../test/helpers/services.js';
import { MessageQueue } from '../src/message-queue.js';
import { migrate } from '../src/migrate.js';
import { PersistStore } from '../src/persist-store.js';
import type { NewMessage } from '../src/types.js';

/** Test fixtures of the store's tests (and the persister's): a migrated database of their own and message factories. */

export interface QueueDb {
  url: string;
  pool: pg.Pool;
  /** The design's queue API. */
  queue: MessageQueue;
  /** The persister's statements (hot path, replay, dead letters, retention). */
  store: PersistStore;
  close(): Promise<void>;
}

export async function migratedDatabase(name: string, poolSize = 4): Promise<QueueDb> {
  const db = await freshDatabase(name);
  await migrate(db.url);
  const pool = new pg.Pool({ connectionString: db.url, max: Math.min(poolSize, maxPoolSize() ?? poolSize) });
  pool.on('error', () => {});
  return {
    url: db.url,
    pool,
    queue: new MessageQueue(pool),
    store: new PersistStore(pool),
    async close() {
      await pool.end();
      await db.drop();
    },
  };
}

let counter = 0;

/** A message as the stream consumer would hand it over, with a real binary envelope. */
export function newMessage(
  over: Partial<Envelope> & { streamId?: string; replyTo?: string } = {},
): NewMessage {
  const env: Envelope = {
    id: over.id ?? `m-${randomUUID()}`,
    topic: over.topic ?? 'orders.created',
    type: over.type ?? 'event',
    priority: over.priority ?? 1,
    timestamp: over.timestamp ?? 1_764_201_600_123,
    headers: over.headers ?? { k: 'v' },
    payload: over.payload ?? Buffer.from(`payload ${counter}`),
    traceparent: over.traceparent ?? '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  };
  const m: NewMessage = {
    id: env.id,
    streamId: over.streamId ?? `${1_764_201_600_000 + counter++}-0`,
    envelope: encodeEnvelope(env),
    topic: env.topic,
    type: env.type,
    priority: env.priority,
    timestamp: env.timestamp,
    headers: env.headers,
  };
  if (env.traceparent) m.traceparent = env.traceparent;
  if (over.replyTo) m.replyTo = over.replyTo;
  return m;
}

export function messages(n: number, over: Partial<Envelope> = {}): NewMessage[] {
  return Array.from({ length: n }, () => newMessage(over));
}

/** Status and retry count of one row, read straight from SQL. */
export async function rowState(
  pool: pg.Pool,
  id: string,
): Promise<{ status: string; retry_count: number; last_error: string | null } | undefined> {
  const res = await pool.query('SELECT status, retry_count, last_error FROM messages WHERE id = $1', [id]);
  return res.rows[0];
}

/**
 * Moves rows' updated_at / created_at into the past (ages are what sweep and retention look at), and the
 * batches they were persisted in with them (a row that old was persisted that long ago).
 */
export async function age(pool: pg.Pool, ids: string[], seconds: number): Promise<void> {
  await pool.query(
    `WITH up AS (
       UPDATE messages SET updated_at = now() - $2 * interval '1 second', created_at = now() - $2 * interval '1 second'
       WHERE id = ANY($1) RETURNING seq, updated_at
     ), batches AS (
       UPDATE messages_unmirrored u SET created_at = least(u.created_at, now() - $2 * interval '1 second')
       WHERE EXISTS (SELECT 1 FROM up WHERE up.seq BETWEEN u.lo AND u.hi)
     )
     UPDATE messages_open o SET updated_at = up.updated_at FROM up WHERE o.seq = up.seq`,
    [ids, seconds],
  );
}

/**
 * Moves the message log's partition times `seconds` into the past (opened_at, closed_at), as if the
 * partitions had been rolled that long ago: retention then finds them old.
 */
export async function ageLog(pool: pg.Pool, seconds: number): Promise<void> {
  await pool.query(
    `UPDATE message_partitions SET opened_at = opened_at - $1 * interval '1 second',
       closed_at = closed_at - $1 * interval '1 second'`,
    [seconds],
  );
}

/** The partitions attached to `messages`, by name (the ones created ahead wait detached until their roll). */
export async function attachedPartitions(pool: pg.Pool): Promise<string[]> {
  const parts = await pool.query<{ relname: string }>(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'messages'::regclass ORDER BY c.relname`,
  );
  return parts.rows.map((r) => r.relname);
}

/**
 * The partition new rows go to: its size on disk in bytes and its statistics' row estimate
 * (pg_class.reltuples: -1 before the first ANALYZE), what sql/log_analyze_young.sql looks at.
 */
export async function currentPartition(pool: pg.Pool): Promise<{ bytes: number; reltuples: number }> {
  const res = await pool.query<{ bytes: string; reltuples: number }>(
    `SELECT pg_relation_size(c.oid)::text AS bytes, c.reltuples::float8 AS reltuples
     FROM message_partitions p JOIN pg_class c ON c.oid = to_regclass('messages_p' || p.n)
     WHERE p.opened_at IS NOT NULL ORDER BY p.n DESC LIMIT 1`,
  );
  const r = res.rows[0]!;
  return { bytes: Number(r.bytes), reltuples: r.reltuples };
}

/** Rolls the message log now (new rows go to the next partition), as the maintenance does when it is time. */
export async function rollLog(pool: pg.Pool | pg.ClientBase): Promise<number> {
  await pool.query('SELECT fleet_log_ensure(2)');
  await pool.query('SELECT fleet_log_attach(0)');
  const res = await pool.query<{ n: number }>('SELECT fleet_log_roll(0) AS n');
  await pool.query('SELECT fleet_log_ensure(2)');
  return res.rows[0]!.n;
}

/**
 * Puts rows straight into a state (a test's shortcut past the workers), keeping messages_open in step as
 * the store does: COMPLETED rows leave it, the others are mirrored there.
 */
export async function forceStatus(
  pool: pg.Pool,
  ids: string[] | 'all',
  status: string,
  set: { lastError?: string; retryCount?: number } = {},
): Promise<void> {
  await pool.query(
    `WITH up AS (
       UPDATE messages SET status = $2, last_error = coalesce($3, last_error), retry_count = coalesce($4, retry_count)
       WHERE $1::text[] IS NULL OR id = ANY($1) RETURNING seq, status, updated_at
     ), closed AS (
       DELETE FROM messages_open o USING up WHERE o.seq = up.seq AND up.status = 'COMPLETED'
     )
     INSERT INTO messages_open (seq, status, updated_at) SELECT seq, status, updated_at FROM up WHERE status <> 'COMPLETED'
     ON CONFLICT (seq) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at`,
    [ids === 'all' ? null : ids, status, set.lastError ?? null, set.retryCount ?? null],
  );
}
