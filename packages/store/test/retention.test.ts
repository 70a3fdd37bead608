import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdvisoryLock } from '../src/schema.js';
import { age, messages, migratedDatabase, type QueueDb } from './fixtures.js';

describe('PersistStore.deleteExpired (retention)', () => {
  let db: QueueDb;
  beforeAll(async () => {
    db = await migratedDatabase('db_retention');
  });
  afterAll(async () => db?.close());

  const ids = async (status: string) =>
    (await db.pool.query('SELECT id FROM messages WHERE status = $1 ORDER BY id', [status])).rows.map(
      (r) => r.id as string,
    );

  it('deletes only old COMPLETED and DEAD rows (and old dead entries), batch by batch', async () => {
    const oldDone = messages(25);
    const newDone = messages(3);
    const oldDead = messages(7);
    const recentDead = messages(2);
    const oldPending = messages(4);
    const oldFailed = messages(4);
    await db.store.persistBatch(
      [...oldDone, ...newDone, ...oldDead, ...recentDead, ...oldPending, ...oldFailed],
      [],
    );
    await db.queue.markCompleted([...oldDone, ...newDone].map((m) => m.id));
    await db.store.applyStatuses(
      [...oldDead, ...recentDead].map((m) => ({ id: m.id, status: 'DEAD' as const, attempt: 0 })),
    );
    await db.queue.markFailed(
      oldFailed.map((m) => m.id),
      'x',
    );
    const everyOld = [...oldDone, ...oldDead, ...oldPending, ...oldFailed].map((m) => m.id);
    await age(db.pool, everyOld, 7200);
    await age(
      db.pool,
      recentDead.map((m) => m.id),
      1800,
    ); // younger than the DEAD max age
    await db.store.insertDeadEntry('s', '1-0', 'r', {});
    await db.pool.query(`UPDATE dead_entries SET created_at = now() - interval '2 hours'`);
    await db.store.insertDeadEntry('s', '2-0', 'r', {});

    // Count the DELETE statements: with batch 4, 25 + 7 rows take 7 + 2 short transactions.
    let deletes = 0;
    const connect = db.pool.connect.bind(db.pool);
    const spy = async () => {
      const client = await connect();
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      client.query = ((cfg: { name?: string }, ...rest: unknown[]) => {
        if (cfg?.name?.startsWith('fleet_delete_')) deletes++;
        return query(cfg, ...rest);
      }) as typeof client.query;
      return client;
    };
    db.pool.connect = spy as typeof db.pool.connect;
    let deleted: number;
    try {
      deleted = await db.store.deleteExpired(3600, 3600, 4);
    } finally {
      db.pool.connect = connect as typeof db.pool.connect;
    }
    expect(deletes).toBe(7 + 2);
    expect(deleted).toBe(25 + 7 + 1);
    expect(await ids('COMPLETED')).toEqual(newDone.map((m) => m.id).sort());
    expect(await ids('DEAD')).toEqual(recentDead.map((m) => m.id).sort());
    expect((await ids('PENDING')).length).toBe(4);
    expect((await ids('FAILED')).length).toBe(4);
    expect((await db.store.listDeadEntries(10)).map((e) => e.streamId)).toEqual(['2-0']);
    expect(await db.store.deleteExpired(3600, 3600, 4)).toBe(0);
  });

  it('one persister at a time: a concurrent run skips while another holds the retention lock', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1)', [AdvisoryLock.retention]);
      const done = messages(3);
      await db.store.persistBatch(done, []);
      await db.queue.markCompleted(done.map((m) => m.id));
      await age(
        db.pool,
        done.map((m) => m.id),
        7200,
      );
      expect(await db.store.deleteExpired(3600, 3600, 100)).toBe(0);
      await client.query('SELECT pg_advisory_unlock_all()');
      expect(await db.store.deleteExpired(3600, 3600, 100)).toBe(3);
    } finally {
      client.release();
    }
  });
});
