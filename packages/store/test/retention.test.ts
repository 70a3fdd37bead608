import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdvisoryLock } from '../src/schema.js';
import { age, ageLog, messages, migratedDatabase, type QueueDb } from './fixtures.js';

// Retention of the partitioned message log (PersistStore.maintainLog): whole partitions are dropped, the
// rows in them that are not COMPLETED are carried into the current partition first, DEAD rows and dead
// stream entries are deleted by age.
describe('PersistStore.maintainLog (retention)', () => {
  let db: QueueDb;
  beforeAll(async () => {
    db = await migratedDatabase('db_retention');
  });
  afterAll(async () => db?.close());

  const ids = async (status: string) =>
    (await db.pool.query('SELECT id FROM messages WHERE status = $1 ORDER BY id', [status])).rows.map(
      (r) => r.id as string,
    );
  const run = (partitionIntervalS: number) =>
    db.store.maintainLog({ partitionIntervalS, completedMaxAgeS: 3600, deadMaxAgeS: 3600, batch: 4 });

  it('drops the partitions closed past the max age, carrying their open rows forward; deletes old DEAD rows', async () => {
    const oldDone = messages(25);
    const oldDead = messages(7);
    const recentDead = messages(2);
    const oldPending = messages(4);
    const oldFailed = messages(4);
    await db.store.persistBatch([...oldDone, ...oldDead, ...recentDead, ...oldPending, ...oldFailed], []);
    await db.queue.markCompleted(oldDone.map((m) => m.id));
    await db.store.applyStatuses(
      [...oldDead, ...recentDead].map((m) => ({ id: m.id, status: 'DEAD' as const, attempt: 0 })),
    );
    await db.queue.markFailed(
      oldFailed.map((m) => m.id),
      'x',
    );
    // Time to roll (interval 0): the first partition is closed now, too young to drop.
    const first = await run(0);
    expect(first.rolled).toBe(1);
    expect(first.dropped).toEqual([]);
    const newDone = messages(3);
    await db.store.persistBatch(newDone, []);
    await db.queue.markCompleted(newDone.map((m) => m.id));

    await ageLog(db.pool, 7200);
    await age(
      db.pool,
      [...oldDead, ...oldPending, ...oldFailed].map((m) => m.id),
      7200,
    );
    await age(
      db.pool,
      recentDead.map((m) => m.id),
      1800,
    ); // younger than the DEAD max age
    await db.store.insertDeadEntry('s', '1-0', 'r', {});
    await db.pool.query(`UPDATE dead_entries SET created_at = now() - interval '2 hours'`);
    await db.store.insertDeadEntry('s', '2-0', 'r', {});

    // Mutation tried: fleet_log_retire without the carry-forward statement -> the PENDING, FAILED and
    // recent DEAD rows were dropped with their partition: this test failed.
    const r = await run(86_400);
    expect(r.ran).toBe(true);
    expect(r.rolled).toBeNull();
    expect(r.dropped).toHaveLength(1);
    expect(r.dropped[0]).toMatchObject({ partition: 0, carried: 7 + 2 + 4 + 4 });
    expect(r.deadDeleted).toBe(7);
    expect(r.deadEntriesDeleted).toBe(1);
    expect((await db.pool.query("SELECT to_regclass('messages_p0') AS t")).rows[0].t).toBeNull();
    expect(await ids('COMPLETED')).toEqual(newDone.map((m) => m.id).sort());
    expect(await ids('DEAD')).toEqual(recentDead.map((m) => m.id).sort());
    expect(await ids('PENDING')).toEqual(oldPending.map((m) => m.id).sort());
    expect(await ids('FAILED')).toEqual(oldFailed.map((m) => m.id).sort());
    // messages_open follows the carried rows to their new seq.
    const open = await db.pool.query(
      `SELECT count(*)::int AS n FROM messages m JOIN messages_open o ON o.seq = m.seq AND o.status = m.status`,
    );
    expect(open.rows[0].n).toBe(2 + 4 + 4);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM messages_open')).rows[0].n).toBe(10);
    // The carried FAILED rows keep their error and go on through the retry path.
    const { requeued } = await db.store.reprocessFailed(3, 100);
    expect(requeued.map((m) => m.id).sort()).toEqual(oldFailed.map((m) => m.id).sort());
    expect((await db.store.listDeadEntries(10)).map((e) => e.streamId)).toEqual(['2-0']);

    const again = await run(86_400);
    expect(again.dropped).toEqual([]);
    expect(again.deadDeleted + again.deadEntriesDeleted).toBe(0);
  });

  it('one persister at a time: a concurrent run skips while another holds the retention lock', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1)', [AdvisoryLock.retention]);
      expect((await run(0)).ran).toBe(false);
      await client.query('SELECT pg_advisory_unlock_all()');
      const r = await run(0);
      expect(r.ran).toBe(true);
      expect(r.rolled).not.toBeNull();
    } finally {
      client.release();
    }
  });
});
