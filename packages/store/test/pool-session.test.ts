import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FreshDatabase, freshDatabase } from '../../../test/helpers/services.js';
import { createPool } from '../src/pool.js';

// The fleet's connections start with jit off (pool.ts SESSION_OPTIONS): on a big log JIT compiled the
// sweep's statement on every run (93-97 ms against 4-6 ms without, on 5M rows).
describe('pool: session settings', () => {
  let db: FreshDatabase;
  beforeAll(async () => {
    db = await freshDatabase('db_pool_session');
  });
  afterAll(async () => db?.drop());

  it('every pooled connection starts with jit off', async () => {
    const pool = createPool(db.url, { min_connections: 0, max_connections: 2, idle_timeout_s: 10 });
    try {
      // Two connections at once: the setting is every connection's, not the first one's.
      const a = await pool.connect();
      const b = await pool.connect();
      try {
        // Mutation tried: createPool without `options` -> 'on' (the server's default): this test failed.
        expect((await a.query('SHOW jit')).rows[0].jit).toBe('off');
        expect((await b.query('SHOW jit')).rows[0].jit).toBe('off');
      } finally {
        a.release();
        b.release();
      }
    } finally {
      await pool.end();
    }
  });
});
