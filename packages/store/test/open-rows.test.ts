import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Table } from '../src/schema.js';
import { age, messages, migratedDatabase, type QueueDb } from './fixtures.js';

/**
 * messages_open holds the rows not COMPLETED that the sweep has mirrored or an outcome made FAILED, DEAD or
 * PROCESSING (open-rows-mirrored-late migration); status changes stay HOT.
 */
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

  const unmirrored = async () =>
    Number((await db.pool.query(`SELECT count(*) FROM ${Table.messagesUnmirrored}`)).rows[0].count);

  it('a row enters when the sweep mirrors its batch or an outcome leaves it FAILED, DEAD or PROCESSING; it leaves when COMPLETED or deleted', async () => {
    const [a, b, c, d, e] = messages(5);
    await db.store.persistBatch([a!, b!, c!, d!, e!], []);
    // Nothing enters at insert: the batch's seq range waits for the sweep; the count sees its rows.
    expect(await openIds()).toEqual([]);
    expect(await unmirrored()).toBe(1);
    expect(await db.queue.countPending()).toBe(5);
    // A replayed batch inserts nothing and records no range.
    await db.store.persistBatch([a!, b!], []);
    expect(await unmirrored()).toBe(1);

    await db.store.applyStatuses([
      { id: a!.id, status: 'COMPLETED', attempt: 0 },
      { id: b!.id, status: 'FAILED', error: 'e', attempt: 0 },
      { id: c!.id, status: 'DEAD', error: 'unrouted', attempt: 0 },
      { id: d!.id, status: 'PROCESSING', attempt: 0 },
    ]);
    // At once: the retries read FAILED rows there, the dead letters DEAD ones.
    expect(await openIds()).toEqual([b!.id, c!.id, d!.id].sort());
    expect((await db.store.listDead({ limit: 10 })).map((m) => m.id)).toEqual([c!.id]);
    expect(await db.queue.countPending()).toBe(1);

    // A sweep mirrors only the batches older than its age.
    expect(await db.store.sweepStale(60_000, 100)).toEqual([]);
    expect(await unmirrored()).toBe(1);
    await age(db.pool, [e!.id], 120);
    expect((await db.store.sweepStale(60_000, 100)).map((m) => m.id)).toEqual([e!.id]);
    expect(await unmirrored()).toBe(0);
    expect(await openIds()).toEqual([b!.id, c!.id, d!.id, e!.id].sort());
    expect(await db.queue.countPending()).toBe(1);

    expect(await db.queue.markCompleted([d!.id, e!.id])).toBe(2);
    expect(await db.store.purgeDead([c!.id])).toBe(1);
    expect(await openIds()).toEqual([b!.id]);
    expect((await db.store.listDead({ limit: 10 })).map((m) => m.id)).toEqual([]);
  });

  it('a batch whose rows all ended at their first attempt leaves with nothing mirrored; a row ended twice counts once', async () => {
    const done = messages(3);
    await db.store.persistBatch(done, []);
    await db.store.applyStatuses(done.map((m) => ({ id: m.id, status: 'COMPLETED' as const, attempt: 0 })));
    const open = async (id: string) =>
      (
        await db.pool.query<{ open: number }>(
          `SELECT b.open FROM ${Table.messagesUnmirrored} b JOIN ${Table.messages} m ON m.batch = b.batch
            WHERE m.id = $1`,
          [id],
        )
      ).rows[0]?.open;
    expect(await open(done[0]!.id)).toBe(0);

    // p ends DEAD, is replayed (attempt 1) and completes: counted off once. r never gets an outcome (its
    // job lost): the batch must keep it for the sweep.
    const [p, r] = messages(2);
    await db.store.persistBatch([p!, r!], []);
    await db.store.applyStatuses([{ id: p!.id, status: 'DEAD', error: 'x', attempt: 0 }]);
    await db.store.replayDead([p!.id]);
    await db.store.applyStatuses([{ id: p!.id, status: 'COMPLETED', attempt: 1 }]);
    expect(await open(r!.id)).toBe(1);
    await age(
      db.pool,
      [...done, p!, r!].map((m) => m.id),
      120,
    );
    expect((await db.store.sweepStale(60_000, 100)).map((m) => m.id)).toEqual([r!.id]);
    expect(await unmirrored()).toBe(0);
    expect(await openIds()).not.toContain(done[0]!.id);
  });

  it('an entry left for a row that completed as its batch was mirrored goes at the next sweep', async () => {
    const [x] = messages(1);
    await db.store.persistBatch([x!], []);
    await db.store.applyStatuses([{ id: x!.id, status: 'COMPLETED', attempt: 0 }]);
    // What mirror_open leaves when the row's outcome commits between its read and its insert.
    await db.pool.query(
      `INSERT INTO ${Table.messagesOpen} (seq, status, updated_at)
       SELECT seq, 'PENDING', now() - interval '1 hour' FROM ${Table.messages} WHERE id = $1`,
      [x!.id],
    );
    expect(await openIds()).toContain(x!.id);
    expect(await db.store.sweepStale(60_000, 100)).toEqual([]);
    expect(await openIds()).not.toContain(x!.id);
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
