import { newMessageId } from '@fleet/protocol';
import type { NewMessage } from '@fleet/store';
import type pg from 'pg';

/**
 * The least a durable, idempotent store of the fleet's messages asks of Postgres: `(id, envelope)` rows,
 * a unique id index, the envelope compressed as `messages.envelope` is (lz4), one INSERT per batch with
 * the envelopes in one bytea parameter (as the ingest sends them). `table` is a plain identifier.
 */
export const FLOOR_TABLE = (table: string) =>
  `CREATE TABLE ${table} (id text PRIMARY KEY, envelope bytea COMPRESSION lz4 NOT NULL)`;

/** One batch into a floor table; every envelope of `rows` has `size` bytes. */
export function insertFloor(db: pg.Pool, table: string, rows: NewMessage[], size: number): Promise<unknown> {
  return db.query(
    `INSERT INTO ${table} (id, envelope)
     SELECT u.id, substring($2::bytea FROM (u.k::int - 1) * $3::int + 1 FOR $3::int)
     FROM unnest($1::text[]) WITH ORDINALITY AS u(id, k)`,
    [rows.map((r) => r.id), Buffer.concat(rows.map((r) => r.envelope)), size],
  );
}

/** `n` new messages as the stream consumer hands them over, each with `envelope`, over 8 topics. */
export function benchRows(n: number, envelope: Buffer): NewMessage[] {
  return Array.from({ length: n }, (_, i) => ({
    id: newMessageId(),
    streamId: `${Date.now()}-${i}`,
    topic: `bench.topic.${i % 8}`,
    type: 'event',
    priority: 0,
    timestamp: Date.now(),
    envelope,
    headers: {},
  }));
}
