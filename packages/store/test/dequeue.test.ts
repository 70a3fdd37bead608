import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMBEDDED_POSTGRES_SKIP } from '../../../test/helpers/services.js';
import { MessageQueue } from '../src/message-queue.js';
import { age, messages, migratedDatabase, type QueueDb, rowState } from './fixtures.js';

if (EMBEDDED_POSTGRES_SKIP)
  console.warn(`db-dequeue: the two row-locking tests are skipped: ${EMBEDDED_POSTGRES_SKIP}`);

describe('MessageQueue.dequeueBatch / countPending', () => {
  let db: QueueDb;
  beforeAll(async () => {
    db = await migratedDatabase('db_dequeue');
  });
  afterAll(async () => db?.close());

  it('claims PENDING rows oldest first and marks them PROCESSING', async () => {
    const [older, newer] = [messages(3), messages(3)];
    await db.store.persistBatch(newer, []);
    await db.store.persistBatch(older, []);
    await age(
      db.pool,
      older.map((m) => m.id),
      60,
    );
    expect(await db.queue.countPending()).toBe(6);
    const got = await db.queue.dequeueBatch(3);
    expect(got.map((m) => m.id).sort()).toEqual(older.map((m) => m.id).sort());
    expect(got.every((m) => m.status === 'PROCESSING')).toBe(true);
    expect((await rowState(db.pool, older[0]!.id))?.status).toBe('PROCESSING');
    expect(await db.queue.countPending()).toBe(3);
    const rest = await db.queue.dequeueBatch(10);
    expect(rest.map((m) => m.id).sort()).toEqual(newer.map((m) => m.id).sort());
    expect(await db.queue.dequeueBatch(10)).toEqual([]);
    expect(await db.queue.countPending()).toBe(0);
  });

  it.skipIf(EMBEDDED_POSTGRES_SKIP)(
    'two connections dequeuing concurrently never get the same row',
    async () => {
      const batch = messages(600);
      await db.store.persistBatch(batch, []);
      const poolB = new pg.Pool({ connectionString: db.url, max: 3 });
      const queueB = new MessageQueue(poolB);
      try {
        const seen: string[] = [];
        const drain = async (q: MessageQueue) => {
          for (;;) {
            const got = await q.dequeueBatch(25);
            if (got.length === 0) return;
            seen.push(...got.map((m) => m.id));
          }
        };
        await Promise.all([drain(db.queue), drain(queueB), drain(db.queue), drain(queueB)]);
        expect(seen.length).toBe(600);
        expect(new Set(seen).size).toBe(600);
      } finally {
        await poolB.end();
      }
    },
  );

  it.skipIf(EMBEDDED_POSTGRES_SKIP)('skips rows another transaction holds instead of waiting', async () => {
    const [held, free] = [messages(1), messages(1)];
    await db.store.persistBatch(held, []);
    await age(
      db.pool,
      held.map((m) => m.id),
      60,
    );
    await db.store.persistBatch(free, []);
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT 1 FROM messages WHERE id = $1 FOR UPDATE', [held[0]!.id]);
      const got = await db.queue.dequeueBatch(10);
      expect(got.map((m) => m.id)).toEqual([free[0]!.id]);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
    expect((await db.queue.dequeueBatch(10)).map((m) => m.id)).toEqual([held[0]!.id]);
  });
});
