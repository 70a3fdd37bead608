import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FreshDatabase, freshDatabase } from '../../../test/helpers/services.js';
import { isSchemaCurrent, migrate, migrationNames } from '../src/migrate.js';
import { Table } from '../src/schema.js';

describe('db migrations', () => {
  let db: FreshDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    db = await freshDatabase('db_migrate');
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('reports the schema as not current before migrating', async () => {
    expect(await isSchemaCurrent(pool)).toBe(false);
  });

  it('several concurrent migrate() calls apply each migration exactly once', async () => {
    const results = await Promise.all([migrate(db.url), migrate(db.url), migrate(db.url)]);
    const names = await migrationNames();
    expect(names.length).toBeGreaterThan(0);
    // Exactly one caller applied them; the others waited on the advisory lock and found nothing to do.
    expect(results.flat().sort()).toEqual(names.sort());
    const { rows } = await pool.query(`SELECT name FROM ${Table.migrations} ORDER BY id`);
    expect(rows.map((r) => r.name)).toEqual(names);
    expect(await isSchemaCurrent(pool)).toBe(true);
  });

  it('is idempotent: a later migrate() applies nothing', async () => {
    expect(await migrate(db.url)).toEqual([]);
  });

  it('creates the tables, constraints and indexes', async () => {
    const tables = await pool.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining([
        Table.messages,
        Table.messagesOpen,
        Table.consumerOffsets,
        Table.deadEntries,
        Table.migrations,
      ]),
    );
    const idx = await pool.query(`SELECT indexname FROM pg_indexes WHERE tablename = 'messages'`);
    expect(idx.rows.map((r) => r.indexname).sort()).toEqual([
      'messages_created_at_idx',
      'messages_id_key',
      'messages_pkey',
      'messages_topic_seq_idx',
    ]);
    // Status changes stay HOT: no index names a column they change, and pages keep room for them.
    const hotBlocking = await pool.query(
      `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
        WHERE i.indrelid = 'messages'::regclass AND a.attname IN ('status', 'updated_at', 'retry_count', 'last_error')`,
    );
    expect(hotBlocking.rows).toEqual([]);
    const opts = await pool.query(`SELECT reloptions FROM pg_class WHERE relname = 'messages'`);
    expect(opts.rows[0].reloptions).toEqual(expect.arrayContaining(['fillfactor=50']));
    await expect(
      pool.query(
        `INSERT INTO messages (id, topic, type, sent_at, envelope, status) VALUES ('x', 't', 'event', now(), '\\x00', 'BOGUS')`,
      ),
    ).rejects.toThrow(/check constraint/);
  });
});
