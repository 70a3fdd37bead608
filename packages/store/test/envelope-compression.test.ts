import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migratedDatabase, newMessage, type QueueDb } from './fixtures.js';

// The envelope-lz4 migration: envelopes past the TOAST threshold are compressed with lz4, in every
// partition, those made later included (pglz worked through every 8 KB payload that did not compress).
describe('message log: envelopes compressed with lz4', () => {
  let db: QueueDb;
  beforeAll(async () => {
    db = await migratedDatabase('db_envelope_lz4');
  });
  afterAll(async () => db?.close());

  /** The envelope column's compression method per table ('l' = lz4, '' = the server's default, pglz). */
  const methods = async () => {
    const { rows } = await db.pool.query<{ relname: string; m: string }>(
      `SELECT c.relname, a.attcompression::text AS m FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        WHERE a.attname = 'envelope' AND c.relname ~ '^messages(_p\\d+)?$' ORDER BY c.relname`,
    );
    return Object.fromEntries(rows.map((r) => [r.relname, r.m]));
  };

  it('sets lz4 on the parent, the current partition and the partitions waiting ahead', async () => {
    expect(await methods()).toEqual({ messages: 'l', messages_p0: 'l', messages_p1: 'l', messages_p2: 'l' });
  });

  it('makes the partitions created later with lz4 too', async () => {
    expect((await db.pool.query('SELECT fleet_log_ensure(3) AS made')).rows[0].made).toBe(1);
    expect((await methods()).messages_p3).toBe('l');
  });

  it('stores a large envelope that compresses with lz4 and reads it back unchanged', async () => {
    const json = JSON.stringify({
      items: Array.from({ length: 200 }, (_, i) => ({ sku: `SKU-${i % 7}`, qty: 1 })),
    });
    const m = newMessage({ payload: Buffer.from(json) });
    expect(m.envelope.length).toBeGreaterThan(4096);
    const { inserted } = await db.store.persistBatch([m], []);
    expect(inserted).toEqual([m.id]);
    const { rows } = await db.pool.query<{ method: string | null; envelope: Buffer }>(
      'SELECT pg_column_compression(envelope) AS method, envelope FROM messages WHERE id = $1',
      [m.id],
    );
    expect(rows[0]?.method).toBe('lz4');
    expect(Buffer.compare(rows[0]!.envelope, m.envelope)).toBe(0);
  });
});
