import type pg from 'pg';
import { checkout } from './pool.js';
import { prepared, sql } from './sql.js';

/** SQLSTATE of a duplicate key. */
const UNIQUE_VIOLATION = '23505';
/**
 * Runs of persist_batch before a unique_violation is passed on. One is met only when another transaction
 * inserts one of the same ids at the same moment (a resend racing its original): the next run sees that
 * row and skips the id, so a second run is the most ever needed in practice.
 */
const MAX_RUNS = 5;

/**
 * One ingest transaction: ingest_begin.sql (BEGIN and the log lock, shared), persist_batch.sql with
 * `values` (persistParams), COMMIT. Returns the ids inserted. Three round trips instead of one: the lock
 * must be held before the INSERT's snapshot is taken, or an INSERT in a new partition could miss an id
 * another transaction was committing into the old one (sql/ingest_begin.sql).
 */
export async function ingest(pool: pg.Pool, values: unknown[]): Promise<string[]> {
  const c = await checkout(pool);
  let broken: Error | undefined;
  try {
    for (let run = 1; ; run++) {
      try {
        await c.client.query(sql('ingest_begin'));
        const res = await c.client.query<{ id: string }>({ ...prepared('persist_batch'), values });
        await c.client.query('COMMIT');
        return res.rows.map((r) => r.id);
      } catch (err) {
        // A client whose ROLLBACK fails (a lost connection) is destroyed, not returned to the pool.
        await c.client.query('ROLLBACK').catch((e: Error) => {
          broken = e;
        });
        if (broken || c.lost() || (err as { code?: unknown }).code !== UNIQUE_VIOLATION || run >= MAX_RUNS)
          throw err;
      }
    }
  } finally {
    c.release(broken);
  }
}
