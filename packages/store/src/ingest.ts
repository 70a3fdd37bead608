import type pg from 'pg';
import { prepared } from './sql.js';

/** SQLSTATE of a duplicate key. */
const UNIQUE_VIOLATION = '23505';
/**
 * Runs of persist_batch before a unique_violation is passed on. One is met only when another transaction
 * inserts one of the same ids at the same moment (a resend racing its original): the next run sees that
 * row and skips the id, so a second run is the most ever needed in practice.
 */
const MAX_RUNS = 5;

/**
 * One ingest transaction: persist_batch.sql with `values` (persistParams), one statement in autocommit
 * (its function takes the log lock shared before the INSERT's snapshot). Returns the ids inserted. One
 * round trip: with BEGIN and COMMIT apart (three), the stream's consumer_offsets row stayed locked until
 * the COMMIT arrived, and every other ingest transaction waited for it (the ingest-one-round-trip
 * migration).
 */
export async function ingest(pool: pg.Pool, values: unknown[]): Promise<string[]> {
  for (let run = 1; ; run++) {
    try {
      const res = await pool.query<{ id: string }>({ ...prepared('persist_batch'), values });
      return res.rows.map((r) => r.id);
    } catch (err) {
      if ((err as { code?: unknown }).code !== UNIQUE_VIOLATION || run >= MAX_RUNS) throw err;
    }
  }
}
