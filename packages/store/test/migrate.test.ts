import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FreshDatabase, freshDatabase } from '../../../test/helpers/services.js';
import { isSchemaCurrent, migrate, migrationNames } from '../src/migrate.js';
import { Table } from '../src/schema.js';
import { attachedPartitions } from './fixtures.js';

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
    // The log is partitioned: the first partition is current and attached; two wait ahead, detached (a
    // lookup by id probes every attached partition from the duplicate window's start).
    expect(await attached()).toEqual(['messages_p0']);
    const idx = await pool.query(`SELECT indexname FROM pg_indexes WHERE tablename = 'messages'`);
    expect(idx.rows.map((r) => r.indexname).sort()).toEqual(['messages_pkey', 'messages_topic_seq_idx']);
    await expectPartitionShape('messages_p0');
    for (const ahead of ['messages_p1', 'messages_p2']) {
      const own = await pool.query(`SELECT indexdef FROM pg_indexes WHERE tablename = $1`, [ahead]);
      expect(own.rows.map((r) => r.indexdef)).toContainEqual(
        expect.stringMatching(/UNIQUE INDEX .* \(id\)$/),
      );
      const opts = await pool.query(`SELECT reloptions FROM pg_class WHERE relname = $1`, [ahead]);
      expect(opts.rows[0].reloptions).toEqual(expect.arrayContaining(['fillfactor=50']));
    }
    await expect(
      pool.query(
        `INSERT INTO messages (id, topic, type, sent_at, envelope, status) VALUES ('x', 't', 'event', now(), '\\x00', 'BOGUS')`,
      ),
    ).rejects.toThrow(/check constraint/);
  });
  const attached = () => attachedPartitions(pool);

  /** An attached partition's indexes and storage, as every status change and id lookup needs them. */
  async function expectPartitionShape(relname: string): Promise<void> {
    const own = await pool.query(`SELECT indexname, indexdef FROM pg_indexes WHERE tablename = $1`, [
      relname,
    ]);
    // Each partition: seq (primary key), (topic, seq), and its own unique id index (the duplicate window).
    expect(own.rows).toHaveLength(3);
    expect(own.rows.some((r) => /UNIQUE INDEX .* \(id\)$/.test(r.indexdef))).toBe(true);
    expect(own.rows.some((r) => /_pkey$/.test(r.indexname))).toBe(true);
    // Status changes stay HOT: no index names a column they change, and pages keep room for them.
    const hotBlocking = await pool.query(
      `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
        WHERE i.indrelid = $1::regclass AND a.attname IN ('status', 'updated_at', 'retry_count', 'last_error')`,
      [relname],
    );
    expect(hotBlocking.rows).toEqual([]);
    const opts = await pool.query(`SELECT reloptions FROM pg_class WHERE relname = $1`, [relname]);
    expect(opts.rows[0].reloptions).toEqual(expect.arrayContaining(['fillfactor=50']));
  }

  it('the next partition is attached before the roll, shaped as the others; new rows go there', async () => {
    // Not attached, no roll: the roll never moves rows to a partition that is not attached.
    expect(await pool.query('SELECT fleet_log_roll(0) AS n').then((r) => r.rows[0].n)).toBeNull();
    expect(await pool.query('SELECT fleet_log_attach(0) AS n').then((r) => r.rows[0].n)).toBe(1);
    expect(await pool.query('SELECT fleet_log_roll(0) AS n').then((r) => r.rows[0].n)).toBe(1);
    expect(await attached()).toEqual(['messages_p0', 'messages_p1']);
    await expectPartitionShape('messages_p1');
    const row = await pool.query(
      `INSERT INTO messages (id, topic, type, sent_at, envelope, traceparent)
       VALUES ('after-roll', 't', 'event', now(), '\\x00', '00-0123456789abcdef0123456789abcdef-0123456789abcdef-01')
       RETURNING tableoid::regclass::text AS part, trace_id`,
    );
    expect(row.rows[0]).toEqual({ part: 'messages_p1', trace_id: '0123456789abcdef0123456789abcdef' });
    // The maintenance keeps two ahead again, detached.
    expect(await pool.query('SELECT fleet_log_ensure(2) AS made').then((r) => r.rows[0].made)).toBe(1);
    expect(await attached()).toEqual(['messages_p0', 'messages_p1']);
  });
});
