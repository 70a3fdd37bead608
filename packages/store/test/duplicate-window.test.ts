import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { persistParams } from '../src/persist-params.js';
import { prepared } from '../src/sql.js';
import { ageLog, messages, migratedDatabase, type QueueDb, rollLog } from './fixtures.js';

// Idempotency of the partitioned message log: an id is stored once while its row is in the current or
// the previous partition (the duplicate window, docs/protocol.md section 10); a resend from further back
// is stored again, as a new message.
describe('message log: the duplicate window across partitions', () => {
  let db: QueueDb;
  beforeAll(async () => {
    db = await migratedDatabase('db_dupwin');
  });
  afterAll(async () => db?.close());

  const rows = async (id: string) =>
    (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM messages WHERE id = $1', [id]))
      .rows[0]!.n;

  it('a resend across one partition boundary is skipped; from two partitions back it is stored again', async () => {
    const a = messages(5);
    expect((await db.store.persistBatch(a, [])).inserted).toHaveLength(5);
    await rollLog(db.pool);
    // Mutation tried: persist_batch's NOT EXISTS bounded to the current partition only -> the resend
    // across the boundary was inserted again (10 rows): this test failed.
    expect((await db.store.persistBatch([...a, ...messages(1)], [])).inserted).toHaveLength(1);
    for (const m of a) expect(await rows(m.id)).toBe(1);
    await rollLog(db.pool);
    // Now a's partition is two back: out of the window.
    expect((await db.store.persistBatch(a, [])).inserted).toHaveLength(5);
    for (const m of a) expect(await rows(m.id)).toBe(2);
  });

  it('a resend after its partition was dropped is stored as a new message', async () => {
    const b = messages(3);
    await db.store.persistBatch(b, []);
    await db.queue.markCompleted(b.map((m) => m.id));
    await rollLog(db.pool);
    await rollLog(db.pool);
    await ageLog(db.pool, 7200);
    const r = await db.store.maintainLog({
      partitionIntervalS: 86_400,
      completedMaxAgeS: 3600,
      deadMaxAgeS: 3600,
      batch: 100,
    });
    expect(r.dropped.length).toBeGreaterThan(0);
    for (const m of b) expect(await rows(m.id)).toBe(0);
    expect((await db.store.persistBatch(b, [])).inserted).toHaveLength(3);
    for (const m of b) expect(await rows(m.id)).toBe(1);
  });

  it('exact across a roll: an ingest in the new partition waits for one still committing into the old', async () => {
    const [m] = messages(1);
    const { values } = persistParams([m!], []);
    const waiting = async (n: number) => {
      for (let i = 0; i < 200; i++) {
        const w = await db.pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        );
        if (w.rows[0]!.n >= n) return true;
        await new Promise((r) => setTimeout(r, 25));
      }
      return false;
    };
    await db.pool.query('SELECT fleet_log_ensure(2)');
    await db.pool.query('SELECT fleet_log_attach(0)');
    const a = await db.pool.connect();
    const roller = await db.pool.connect();
    try {
      // A: an ingest that has inserted the id into the current partition, not committed yet (the statement
      // inside a transaction held open: its function took the log lock for the transaction).
      await a.query('BEGIN');
      await a.query({ ...prepared('persist_batch'), values });
      // The roll waits for A (it takes the log lock exclusively) ...
      const rolled = roller.query('SELECT fleet_log_roll(0) AS n');
      await waiting(1);
      // ... and B, a resend of the same id, queues behind the roll, so it will insert into the new partition.
      const b = db.store.persistBatch([m!], []);
      await waiting(2);
      await a.query('COMMIT');
      await rolled;
      // Mutation tried: fleet_log_enter taking no lock -> the roll did not wait for A, B inserted the id into
      // the new partition while A's row was uncommitted: 2 rows, and this test failed.
      expect((await b).inserted).toEqual([]);
      expect(await rows(m!.id)).toBe(1);
    } finally {
      a.release();
      roller.release();
    }
  });
});
