import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messages, migratedDatabase, type QueueDb } from './fixtures.js';

// The ingest transaction holds a pooled client across three round trips. A connection lost meanwhile
// (Postgres killed or restarted) reaches a checked-out client as an 'error' event besides the rejected
// query; unhandled, that event ends the process (seen: every persister of the e2e crash test died when
// Postgres was killed). persistBatch must reject instead, and the pool must go on with a new connection.
describe('PersistStore.persistBatch when its connection is lost mid-transaction', () => {
  let db: QueueDb;
  beforeAll(async () => {
    db = await migratedDatabase('db_ingest_lost');
  });
  afterAll(async () => db?.close());

  it('rejects (no uncaught error event), and the next batch commits', async () => {
    const holder = await db.pool.connect();
    try {
      // The ingest waits on the log lock, held here exclusively, so its backend can be killed mid-transaction.
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock(fleet_log_lock_key())');
      // Its outcome is taken at once: the backend's FATAL may reach its connection before the answer to
      // pg_terminate_backend reaches the holder, and a rejection with no handler yet is an unhandled one
      // (vitest failed a CI run on it: "terminating connection due to administrator command").
      const outcome = db.store.persistBatch(messages(3), []).then(
        () => new Error('persistBatch resolved'),
        (err: Error) => err,
      );
      let pid: number | undefined;
      for (let i = 0; i < 200 && pid === undefined; i++) {
        const w = await holder.query<{ pid: number }>(
          "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted LIMIT 1",
        );
        pid = w.rows[0]?.pid;
        if (pid === undefined) await new Promise((r) => setTimeout(r, 25));
      }
      expect(pid).toBeDefined();
      // Mutation tried: checkout() (pool.ts) without its 'error' listener -> vitest reported the client's uncaught
      // 'error' event (Connection terminated unexpectedly): this test failed.
      await holder.query('SELECT pg_terminate_backend($1)', [pid]);
      expect((await outcome).message).toMatch(/terminat/);
      await holder.query('COMMIT');
    } finally {
      holder.release();
    }
    expect((await db.store.persistBatch(messages(2), [])).inserted).toHaveLength(2);
  });
});
