import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { persistParams } from '../src/persist-params.js';
import { sql } from '../src/sql.js';
import { migratedDatabase, newMessage, type QueueDb, rollLog } from './fixtures.js';

// The duplicate window's probe of the previous partition (the window-skips-previous migration): a partition
// records its greatest id when it closes, and an id above it is looked up in the current partition only.
// The window itself must not change: an id at or below that greatest is still found in the previous one.
describe('message log: the previous partition is probed only for ids at or below its greatest', () => {
  let db: QueueDb;
  beforeAll(async () => {
    db = await migratedDatabase('db_prevprobe');
  });
  afterAll(async () => db?.close());

  const count = async (id: string) =>
    (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM messages WHERE id = $1', [id]))
      .rows[0]!.n;
  const at = (id: string) => newMessage({ id });
  // Ids of one test, in byte order ("C"), apart from every other test's.
  let run = 0;
  const ids = () => {
    const p = `r${run++}-`;
    return (k: number) => `${p}${k}`;
  };
  const maxIdOf = async (partition: number) =>
    (await db.pool.query('SELECT max_id FROM message_partitions WHERE n = $1', [partition])).rows[0].max_id;
  const currentPartition = async () =>
    (await db.pool.query('SELECT max(n) AS n FROM message_partitions WHERE opened_at IS NOT NULL')).rows[0].n;

  it('a roll records the greatest id of the partition it closes', async () => {
    const id = ids();
    const closing = await currentPartition();
    await db.store.persistBatch([at(id(2)), at(id(7)), at(id(4))], []);
    await rollLog(db.pool);
    // Mutation tried: fleet_log_roll recording min(id) -> 'r0-2': this test failed.
    expect(await maxIdOf(closing)).toBe(id(7));
    expect(await maxIdOf(await currentPartition())).toBeNull();
  });

  it('resends at or below the previous partition greatest id are still skipped; new ids are stored once', async () => {
    const id = ids();
    await db.store.persistBatch([at(id(2)), at(id(5))], []);
    await rollLog(db.pool);
    // id(5) is the previous partition's greatest, id(2) below it; id(3) is new but below it, id(9) above.
    // Mutation tried: the roll recording min(id) (id(5) then counts as above it, so it is not looked up in the
    // previous partition) -> id(5) stored twice: this test failed.
    const res = await db.store.persistBatch([at(id(2)), at(id(3)), at(id(5)), at(id(9))], []);
    expect(res.inserted.sort()).toEqual([id(3), id(9)]);
    for (const k of [2, 3, 5, 9]) expect(await count(id(k))).toBe(1);
  });

  it('worker outcomes find rows of the previous partition in the first statement', async () => {
    const id = ids();
    await db.store.persistBatch([at(id(2)), at(id(5))], []);
    await rollLog(db.pool);
    await db.store.persistBatch([at(id(9))], []);
    const list = [id(2), id(5), id(9)];
    // apply_statuses alone (no apply_statuses_anywhere pass behind it): nothing is left missing.
    // Mutation tried: apply_statuses bounded by the current partition's first seq for every id -> id(2)
    // and id(5) were missing: this test failed.
    const res = await db.pool.query(sql('apply_statuses'), [
      list,
      list.map(() => 'COMPLETED'),
      [null, null, null],
      [0, 0, 0],
    ]);
    expect(res.rows[0]).toEqual({ n: 3, missing: [] });
  });

  it('an id above the previous partition greatest is not looked up there, by the ingest or the outcomes', async () => {
    const id = ids();
    await db.store.persistBatch([at(id(2)), at(id(5))], []);
    const previous = await currentPartition();
    await rollLog(db.pool);
    await db.store.persistBatch([at(id(1)), at(id(9))], []);
    // Scans of the previous partition made by one statement (of its heap or any of its indexes): the
    // backend's counts not yet reported, read before and after the statement in one transaction (rolled
    // back: nothing changes between calls). A connection of its own, planning afresh with hash and merge
    // joins off: on these few unanalyzed rows the planner would hash the whole log once instead of the
    // index probe per id that a real log gets (young-partition-plans.test.ts), and prune nothing.
    const scans = async (text: string, values: unknown[]) => {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      const counted = async () =>
        Number(
          (
            await client.query<{ n: string }>(
              `SELECT sum(pg_stat_get_xact_numscans(r)) AS n
               FROM (SELECT $1::regclass AS r UNION ALL SELECT indexrelid FROM pg_index WHERE indrelid = $1::regclass) x`,
              [`messages_p${previous}`],
            )
          ).rows[0]!.n,
        );
      try {
        await client.query('SET enable_hashjoin = off; SET enable_mergejoin = off');
        await client.query('BEGIN');
        const before = await counted();
        await client.query(text, values);
        return (await counted()) - before;
      } finally {
        await client.end();
      }
    };
    const outcome = (list: string[]) =>
      scans(sql('apply_statuses'), [
        list,
        list.map(() => 'PROCESSING'),
        list.map(() => null),
        list.map(() => 0),
      ]);
    const ingest = (list: string[]) =>
      scans(
        sql('persist_batch'),
        persistParams(
          list.map((k) => at(k)),
          [],
        ).values,
      );
    // Mutations tried, each failed this test (1 scan where 0 is expected): apply_statuses' seq bound the
    // window's first seq for every id (no fleet_log_probe_from); the same in fleet_persist_batch;
    // fleet_log_probe_from returning lo for every id.
    expect(await outcome([id(9)])).toBe(0);
    expect(await ingest([id(8)])).toBe(0);
    // An id below it is looked up in both: stored in the current partition (id(1)), or new (id(3)).
    expect(await outcome([id(1)])).toBe(1);
    expect(await ingest([id(3)])).toBe(1);
  });

  it('the rule is inlined into the statements: no function call per id', async () => {
    // fleet_log_probe_from is a single-expression SQL function that Postgres inlines; made STRICT, or
    // written in PL/pgSQL, it would be called once per id (its name in the plan's expressions).
    const plan = (
      await db.pool.query(`EXPLAIN (VERBOSE, FORMAT TEXT) ${sql('apply_statuses')}`, [
        ['x'],
        ['PENDING'],
        [null],
        [0],
      ])
    ).rows
      .map((r) => r['QUERY PLAN'])
      .join('\n');
    // Mutation tried: the function declared STRICT -> its name in the plan: this test failed.
    expect(plan).toContain('messages_p');
    expect(plan).not.toContain('fleet_log_probe_from');
  });
});
