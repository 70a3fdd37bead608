import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FreshDatabase, freshDatabase, testTempDir } from '../../../test/helpers/services.js';
import { MessageQueue } from '../src/message-queue.js';
import { MIGRATIONS_DIR, migrate, migrationNames } from '../src/migrate.js';
import { PersistStore } from '../src/persist-store.js';
import { messages, rollLog } from './fixtures.js';

// The upgrade: a database of the unpartitioned schema, with rows in every state, migrated to the
// partitioned log. Its table becomes the first partition as it is (seq, ids, open rows); the
// duplicate window covers its ids; new rows continue the seq and roll into new partitions.
describe('db migrations: the unpartitioned message log upgraded in place', () => {
  let db: FreshDatabase;
  let pool: pg.Pool;
  let store: PersistStore;
  const old = messages(50);

  beforeAll(async () => {
    db = await freshDatabase('db_upgrade');
    const names = await migrationNames();
    const partitioned = names.findIndex((n) => n.endsWith('_partitioned-log'));
    expect(partitioned).toBeGreaterThan(0);
    // The migrations before the partitioned log, alone in a directory of their own.
    const dir = join(await testTempDir('upgrade'), 'migrations');
    await mkdir(dir, { recursive: true });
    for (const n of names.slice(0, partitioned))
      await copyFile(join(MIGRATIONS_DIR, `${n}.sql`), join(dir, `${n}.sql`));
    await migrate(db.url, undefined, { dir });
    pool = new pg.Pool({ connectionString: db.url, max: 3 });
    pool.on('error', () => {});
    // Rows as the old persist statement left them: every row in messages, the open ones in messages_open.
    await pool.query(
      `WITH ins AS (
         INSERT INTO messages (id, topic, type, sent_at, envelope)
         SELECT u.id, 'orders.created', 'event', now(), '\\x00' FROM unnest($1::text[]) WITH ORDINALITY AS u(id, i)
         ORDER BY i RETURNING seq, updated_at
       ) INSERT INTO messages_open (seq, status, updated_at) SELECT seq, 'PENDING', updated_at FROM ins`,
      [old.map((m) => m.id)],
    );
    await new MessageQueue(pool).markCompleted(old.slice(0, 40).map((m) => m.id));
    await migrate(db.url);
    store = new PersistStore(pool);
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('keeps every row, seq and open row in the first partition', async () => {
    const rows = await pool.query<{ id: string; seq: string; status: string }>(
      'SELECT id, seq, status FROM messages_p0 ORDER BY seq',
    );
    expect(rows.rows.map((r) => r.id)).toEqual(old.map((m) => m.id));
    expect(rows.rows.map((r) => Number(r.seq))).toEqual(old.map((_, i) => i + 1));
    expect(await store.countPending()).toBe(10);
    const parts = await store.logPartitions();
    expect(parts.map((p) => p.n)).toEqual([0, 1, 2]);
    expect(parts[0]!.lo).toBeNull();
  });

  it('the old ids are in the duplicate window; new rows continue the seq and roll into new partitions', async () => {
    const fresh = messages(3);
    const r = await store.persistBatch([...old, ...fresh], []);
    expect(r.inserted.sort()).toEqual(fresh.map((m) => m.id).sort());
    const seqs = await pool.query<{ seq: string }>(
      'SELECT seq FROM messages WHERE id = ANY($1) ORDER BY seq',
      [fresh.map((m) => m.id)],
    );
    expect(seqs.rows.map((x) => Number(x.seq))).toEqual([51, 52, 53]);
    await rollLog(pool);
    const more = messages(2);
    await store.persistBatch([...old.slice(0, 5), ...more], []);
    const moved = await pool.query<{ seq: string }>('SELECT seq FROM messages WHERE id = ANY($1)', [
      more.map((m) => m.id),
    ]);
    for (const x of moved.rows) expect(BigInt(x.seq) >= 1n << 36n).toBe(true);
    expect((await pool.query('SELECT count(*)::int AS n FROM messages')).rows[0].n).toBe(55);
    // The pending rows of the old table go on through the queue.
    expect((await new MessageQueue(pool).dequeueBatch(100)).map((m) => m.id).sort()).toEqual(
      [...old.slice(40), ...fresh, ...more].map((m) => m.id).sort(),
    );
  });
});
