import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentPartition, messages, migratedDatabase, type QueueDb } from './fixtures.js';

/**
 * The cached plans of the ingest and status statements must not stay a plan made while the partition was nearly
 * empty in its statistics: after five runs Postgres keeps a generic plan, and one made then hashes a
 * sequential scan of the whole partition per statement until the partition is analyzed (autovacuum: up to
 * a minute later). analyzeYoungPartition (sql/log_analyze_young.sql) analyzes it once it holds 4 MB, so
 * both are planned again by id. One connection, so that the plans read are the ones the statements ran
 * with. Two starts: never analyzed, and analyzed while empty (a database-wide ANALYZE of the partitions
 * created ahead).
 */
describe.each([
  ['never analyzed', false],
  ['analyzed while empty', true],
])('store: plans made on a young partition are replaced (%s)', (_, analyzedEmpty) => {
  let db: QueueDb;
  beforeAll(async () => {
    db = await migratedDatabase(`db_young_plans_${analyzedEmpty ? 'a' : 'n'}`, 1);
    if (analyzedEmpty) await db.pool.query('ANALYZE messages_p0');
  });
  afterAll(async () => db?.close());

  const current = () => currentPartition(db.pool);

  /**
   * The plans the statements run with now: auto_explain's report of every statement, nested ones too (the
   * ingest's INSERT runs inside fleet_persist_batch), sent to this test as notices. The pool's only
   * connection, so the plans are the ones cached for the statements above.
   */
  const plans = async (ids: string[]) => {
    const client = await db.pool.connect();
    const notices: string[] = [];
    const onNotice = (n: { message?: string }) => notices.push(n.message ?? '');
    try {
      await client.query("LOAD 'auto_explain'");
      await client.query('SET auto_explain.log_min_duration = 0');
      await client.query('SET auto_explain.log_nested_statements = on');
      await client.query("SET auto_explain.log_level = 'notice'");
      await client.query("SET client_min_messages = 'notice'");
    } finally {
      client.release();
    }
    client.on('notice', onNotice);
    try {
      await db.store.persistBatch(messages(3), []);
      const persist = notices.splice(0).join('\n');
      await db.store.applyStatuses(ids.map((id) => ({ id, status: 'COMPLETED', attempt: 0 })));
      const status = notices.splice(0).join('\n');
      return { persist, status };
    } finally {
      client.off('notice', onNotice);
      await db.pool.query('SET auto_explain.log_min_duration = -1');
    }
  };

  it('the ingest and status statements probe by id once the partition holds 4 MB', async () => {
    // Six runs of each while the partition is nearly empty: the generic plan is made now.
    const few = messages(60);
    for (let i = 0; i < 6; i++) {
      const batch = few.slice(i * 10, i * 10 + 10);
      await db.store.persistBatch(batch, []);
      await db.store.applyStatuses(batch.map((m) => ({ id: m.id, status: 'COMPLETED', attempt: 0 })));
    }
    // Below 4 MB it is left to autovacuum.
    const { reltuples: start } = await current();
    await db.store.analyzeYoungPartition();
    expect((await current()).reltuples).toBe(start);

    const payload = Buffer.alloc(600, 7);
    const ids: string[] = [];
    while ((await current()).bytes < 4 * 1024 * 1024) {
      const batch = messages(1000, { payload });
      await db.store.persistBatch(batch, []);
      ids.push(...batch.slice(0, 2).map((m) => m.id));
    }
    // What the statements would run with now: the plan made on the empty partition, a scan of all of it.
    const before = await plans(ids);
    expect(before.persist).toMatch(/Seq Scan on messages_p0/);
    expect(before.status).toMatch(/Seq Scan on messages_p0/);

    await db.store.analyzeYoungPartition();
    expect((await current()).reltuples).toBeGreaterThan(0);
    const after = await plans(ids);
    expect(after.persist).not.toMatch(/Seq Scan/);
    expect(after.persist).toMatch(/Index Scan using messages_p0_id_key/);
    expect(after.status).not.toMatch(/Seq Scan/);
    expect(after.status).toMatch(/Index Scan using messages_p0_id_key/);

    // Once analyzed it is left to autovacuum: more rows, and its statistics stay as they were.
    const { reltuples } = await current();
    await db.store.persistBatch(messages(1000, { payload }), []);
    await db.store.analyzeYoungPartition();
    expect((await current()).reltuples).toBe(reltuples);
  });
});
