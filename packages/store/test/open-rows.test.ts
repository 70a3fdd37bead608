import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Table } from '../src/schema.js';
import { messages, migratedDatabase, type QueueDb } from './fixtures.js';

/** messages_open holds the seq of every row that is not COMPLETED; status changes stay HOT. */
describe('store: open rows (messages_open) and HOT status updates', () => {
  let db: QueueDb;
  beforeAll(async () => {
    db = await migratedDatabase('db_open_rows');
  });
  afterAll(async () => db?.close());

  const openIds = async () =>
    (
      await db.pool.query<{ id: string }>(
        `SELECT m.id FROM ${Table.messagesOpen} o JOIN ${Table.messages} m ON m.seq = o.seq ORDER BY m.id`,
      )
    ).rows.map((r) => r.id);

  it('a row is open from its insert until it is COMPLETED or deleted; DEAD rows stay open for ops', async () => {
    const [a, b, c, d] = messages(4);
    await db.store.persistBatch([a!, b!, c!, d!], []);
    // A replayed batch inserts nothing and opens nothing twice.
    await db.store.persistBatch([a!, b!], []);
    expect(await openIds()).toEqual([a!.id, b!.id, c!.id, d!.id].sort());

    await db.store.applyStatuses([
      { id: a!.id, status: 'COMPLETED', attempt: 0 },
      { id: b!.id, status: 'FAILED', error: 'e', attempt: 0 },
      { id: c!.id, status: 'DEAD', error: 'unrouted', attempt: 0 },
      { id: d!.id, status: 'PROCESSING', attempt: 0 },
    ]);
    expect(await openIds()).toEqual([b!.id, c!.id, d!.id].sort());
    expect(await db.queue.markCompleted([d!.id])).toBe(1);
    expect(await db.store.purgeDead([c!.id])).toBe(1);
    expect(await openIds()).toEqual([b!.id]);
    expect((await db.store.listDead({ limit: 10 })).map((m) => m.id)).toEqual([]);
  });

  it('messages_open mirrors the status and updated_at of every row that is not COMPLETED', async () => {
    const batch = messages(6);
    await db.store.persistBatch(batch, []);
    const [a, b, c, d] = batch;
    await db.store.applyStatuses([
      { id: a!.id, status: 'PROCESSING', attempt: 0 },
      { id: b!.id, status: 'FAILED', error: 'e', attempt: 0 },
      { id: c!.id, status: 'DEAD', error: 'x', attempt: 0 },
    ]);
    await db.queue.markFailed([d!.id], 'boom');
    await db.queue.reprocessFailed(0, 100); // FAILED past a limit of 0 -> DEAD
    await db.store.replayDead([c!.id]);
    await db.queue.dequeueBatch(1);
    await db.store.sweepStale(0, 100);
    const mismatched = await db.pool.query(
      `SELECT m.id, m.status, o.status AS open_status FROM ${Table.messages} m
         LEFT JOIN ${Table.messagesOpen} o ON o.seq = m.seq
        WHERE (m.status = 'COMPLETED') <> (o.seq IS NULL)
           OR (o.seq IS NOT NULL AND (o.status <> m.status OR o.updated_at <> m.updated_at))`,
    );
    expect(mismatched.rows).toEqual([]);
  });

  it('status updates are heap-only (HOT): no index entry is written for them', async () => {
    const batch = messages(200);
    await db.store.persistBatch(batch, []);
    const stats = async () =>
      (
        await db.pool.query<{ upd: string; hot: string }>(
          // Summed over the partitions of the message log.
          `SELECT sum(n_tup_upd)::text AS upd, sum(n_tup_hot_upd)::text AS hot FROM pg_stat_user_tables
            WHERE relid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = $1::regclass)`,
          [Table.messages],
        )
      ).rows[0]!;
    // pg_stat counters are flushed by the backend after its transaction; a fresh snapshot is forced.
    const snapshot = async () => {
      await db.pool.query('SELECT pg_stat_force_next_flush()');
      await db.pool.query('SELECT pg_stat_clear_snapshot()');
      return stats();
    };
    const before = await snapshot();
    await db.store.applyStatuses(batch.map((m) => ({ id: m.id, status: 'COMPLETED' as const, attempt: 0 })));
    let after = await snapshot();
    for (let i = 0; i < 20 && Number(after.upd) - Number(before.upd) < 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await snapshot();
    }
    expect(Number(after.upd) - Number(before.upd)).toBe(200);
    expect(Number(after.hot) - Number(before.hot)).toBe(200);
  });
});
