import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messages, migratedDatabase, type QueueDb, rollLog } from './fixtures.js';

// Worker outcomes on the partitioned log: applyStatuses looks in the two newest partitions first and
// finds the other rows (a late retry, a replayed old dead letter) where they are.
describe('PersistStore.applyStatuses across partitions', () => {
  let db: QueueDb;
  beforeAll(async () => {
    db = await migratedDatabase('db_status_parts');
  });
  afterAll(async () => db?.close());

  const status = async (id: string) =>
    (await db.pool.query<{ status: string }>('SELECT status FROM messages WHERE id = $1', [id])).rows[0]
      ?.status;

  it('applies outcomes to rows of the newest partitions and of older ones in one call', async () => {
    const old = messages(3);
    await db.store.persistBatch(old, []);
    await rollLog(db.pool);
    await rollLog(db.pool);
    const recent = messages(3);
    await db.store.persistBatch(recent, []);
    // Mutation tried: applyStatuses without the apply_statuses_anywhere pass -> 3 changed, the old rows
    // stayed PENDING: this test failed.
    const n = await db.store.applyStatuses(
      [...old, ...recent].map((m) => ({ id: m.id, status: 'COMPLETED' as const, attempt: 0 })),
    );
    expect(n).toBe(6);
    for (const m of [...old, ...recent]) expect(await status(m.id)).toBe('COMPLETED');
    expect((await db.pool.query('SELECT count(*)::int AS n FROM messages_open')).rows[0].n).toBe(0);
    // Unknown ids and stale outcomes change nothing.
    expect(await db.store.applyStatuses([{ id: 'nope', status: 'FAILED', attempt: 0 }])).toBe(0);
    expect(await db.store.applyStatuses([{ id: old[0]!.id, status: 'FAILED', attempt: 0 }])).toBe(0);
  });
});
