import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../src/sql.js';
import { age, messages, migratedDatabase, type QueueDb } from './fixtures.js';

// countPending counts the backlog up to a bound (the "no exact COUNT over millions of rows"):
// each of its two parts, the mirrored rows (messages_open) and the batches not mirrored yet, stops at it.
describe('store: countPending is exact below its bound and bounded above it', () => {
  let db: QueueDb;
  beforeAll(async () => {
    db = await migratedDatabase('db_count_pending');
  });
  afterAll(async () => db?.close());

  it('counts mirrored and not yet mirrored PENDING rows, each part up to the bound', async () => {
    const mirrored = messages(5);
    await db.store.persistBatch(mirrored, []);
    await age(
      db.pool,
      mirrored.map((m) => m.id),
      120,
    );
    expect(await db.store.sweepStale(60_000, 100)).toHaveLength(5); // mirrored into messages_open
    await db.store.persistBatch(messages(4), []); // a batch not mirrored yet

    expect(await db.queue.countPending()).toBe(9);
    expect(await db.queue.countPending(9)).toBe(9);
    // At the bound: "at least that many".
    expect(await db.queue.countPending(4)).toBe(4);
    expect(await db.store.countPending(7)).toBe(7);
    // The statement itself stops each part at the bound (5 -> 3 and 4 -> 3): it never walks the whole
    // backlog. Mutations tried: either LIMIT removed -> 8, 7: this test failed.
    const res = await db.pool.query<{ n: number }>(sql('count_pending'), [3]);
    expect(res.rows[0]!.n).toBe(6);
  });
});
