import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  it('an id above the previous partition greatest is not looked up there', async () => {
    const id = ids();
    await db.store.persistBatch([at(id(2)), at(id(5))], []);
    const previous = await currentPartition();
    await rollLog(db.pool);
    await db.store.persistBatch([at(id(1)), at(id(9))], []);
    // Index scans of the previous partition's id index run by one apply_statuses call (EXPLAIN ANALYZE).
    const loops = async (list: string[]) => {
      const plan = (
        await db.pool.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql('apply_statuses')}`, [
          list,
          list.map(() => 'PROCESSING'),
          list.map(() => null),
          list.map(() => 0),
        ])
      ).rows[0]['QUERY PLAN'];
      let n = 0;
      const walk = (node: Record<string, unknown>) => {
        if (node['Relation Name'] === `messages_p${previous}`) n += Number(node['Actual Loops']);
        for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) walk(child);
      };
      walk(plan[0].Plan);
      return n;
    };
    // Mutation tried: apply_statuses' seq bound without the CASE (the window's first seq for every id) -> 1
    // loop for id(9): this test failed.
    expect(await loops([id(9)])).toBe(0);
    // An id below it, stored in the current partition, is looked up in both.
    expect(await loops([id(1)])).toBe(1);
  });
});
