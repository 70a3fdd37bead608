import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LogMaintenance, PersistStore } from '../src/persist-store.js';
import { attachedPartitions, messages, migratedDatabase, type QueueDb } from './fixtures.js';

// The roll of the partitioned log (the ahead-partitions-detached migration): partitions wait detached
// until the roll is due, the next one is attached in a transaction of its own, and the sequence only moves
// forward, so no failed step hands a seq out twice or routes a row to a partition that is not attached.
describe('message log: the roll', () => {
  let db: QueueDb;
  beforeAll(async () => {
    db = await migratedDatabase('db_logroll');
  });
  afterAll(async () => db?.close());

  const attached = () => attachedPartitions(db.pool);
  const current = async () =>
    (await db.pool.query('SELECT max(n) AS n FROM message_partitions WHERE opened_at IS NOT NULL')).rows[0].n;
  const maintenance = (partitionIntervalS: number): LogMaintenance => ({
    partitionIntervalS,
    completedMaxAgeS: 86_400,
    deadMaxAgeS: 86_400,
    batch: 1000,
  });

  it('keeps the partitions ahead detached until a roll is due, then attaches the next one and rolls', async () => {
    const store = new PersistStore(db.pool);
    const quiet = await store.maintainLog(maintenance(3600));
    expect(quiet).toMatchObject({ ran: true, rolled: null });
    expect(await attached()).toEqual(['messages_p0']);
    const due = await store.maintainLog(maintenance(0));
    expect(due).toMatchObject({ ran: true, rolled: 1, created: 1 });
    expect(await attached()).toEqual(['messages_p0', 'messages_p1']);
    const ins = await db.store.persistBatch(messages(2), []);
    expect(ins.inserted).toHaveLength(2);
    const parts = await db.pool.query<{ part: string }>(
      'SELECT DISTINCT tableoid::regclass::text AS part FROM messages WHERE id = ANY($1)',
      [ins.inserted],
    );
    expect(parts.rows).toEqual([{ part: 'messages_p1' }]);
  });

  it('a roll run again after one whose transaction failed past its setval hands out no seq twice', async () => {
    await db.pool.query('SELECT fleet_log_ensure(2)');
    await db.pool.query('SELECT fleet_log_attach(0)');
    const before = await current();
    // The roll's transaction fails after the sequence moved: setval is not transactional, the catalog is.
    const c = await db.pool.connect();
    try {
      await c.query('BEGIN');
      expect((await c.query('SELECT fleet_log_roll(0) AS n')).rows[0].n).toBe(before + 1);
      await c.query('ROLLBACK');
    } finally {
      c.release();
    }
    expect(await current()).toBe(before);
    // Rows go to the next partition already (attached before the roll, in its own transaction). More of
    // them than persistBatch's runs on a duplicate key (each run takes a new seq) could step past.
    const early = await db.store.persistBatch(messages(20), []);
    expect(early.inserted).toHaveLength(20);
    // The next maintenance rolls again; the sequence must not go back to the partition's first seq.
    // Mutation tried: fleet_log_roll's setval unguarded -> the persistBatch below failed on
    // messages_p2_pkey (duplicate key): this test failed.
    expect((await db.pool.query('SELECT fleet_log_roll(0) AS n')).rows[0].n).toBe(before + 1);
    const late = await db.store.persistBatch(messages(3), []);
    expect(late.inserted).toHaveLength(3);
    const seqs = await db.pool.query<{ n: number; distinct: number }>(
      'SELECT count(*)::int AS n, count(DISTINCT seq)::int AS distinct FROM messages WHERE id = ANY($1)',
      [[...early.inserted, ...late.inserted]],
    );
    expect(seqs.rows[0]).toEqual({ n: 23, distinct: 23 });
  });
});
