import type pg from 'pg';
import { prepared } from './sql.js';

/** Batches mirrored per statement (each persisted batch holds up to a few thousand rows). */
const MIRROR_PAGE = 200;

/**
 * Puts the rows still open of every batch persisted more than `olderThanMs` ago into `messages_open`
 * (sql/mirror_open.sql, a page of batches per statement, until none is left; a batch whose rows all
 * ended is dropped unread; open-rows-mirrored-late migration). Once it returns, every such row is in
 * messages_open. Returns the rows that entered.
 */
export async function mirrorOpen(pool: pg.Pool | pg.PoolClient, olderThanMs: number): Promise<number> {
  let opened = 0;
  for (;;) {
    const res = await pool.query<{ ranges: number; opened: number }>({
      ...prepared('mirror_open'),
      values: [olderThanMs, MIRROR_PAGE],
    });
    const r = res.rows[0];
    opened += r?.opened ?? 0;
    if (!r || r.ranges === 0) return opened;
  }
}
