import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toPgNumberArray, toPgTextArray } from '../src/sql-text.js';
import { migratedDatabase, type QueueDb } from './fixtures.js';

/** The hand-built array parameters must mean to Postgres exactly what node-postgres' own would. */
describe('Postgres array parameters (sql-text.ts)', () => {
  let db: QueueDb;
  beforeAll(async () => {
    db = await migratedDatabase('db_text_array', 1);
  });
  afterAll(async () => db?.close());

  const storable = fc.string({ unit: 'binary', maxLength: 30 }).filter((s) => !s.includes('\0'));

  it('text[]: any storable strings and NULLs read back unchanged', async () => {
    const tricky = [
      'NULL',
      'null',
      '',
      ' ',
      '"',
      '\\',
      '\\"',
      '{',
      '}',
      ',',
      'a,b',
      '{"x"}',
      'é',
      '🚀',
      '\t\n',
    ];
    // Read back, and compared in Postgres with node-postgres' own encoding of the same JS array.
    const read = async (values: (string | null)[]) => {
      const { rows } = await db.pool.query<{ a: (string | null)[]; same: boolean }>(
        'SELECT $1::text[] AS a, $1::text[] IS NOT DISTINCT FROM $2::text[] AS same',
        [toPgTextArray(values), values],
      );
      expect(rows[0]!.same).toBe(true);
      return rows[0]!.a;
    };
    expect(await read([...tricky, null])).toEqual([...tricky, null]);
    expect(await read([])).toEqual([]);
    expect(await read([null])).toEqual([null]);
    expect(await read(['x'.repeat(100_000), 'é'.repeat(50_000)])).toEqual([
      'x'.repeat(100_000),
      'é'.repeat(50_000),
    ]);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.option(storable, { nil: null }), { maxLength: 20 }), async (values) => {
        expect(await read(values)).toEqual(values);
      }),
      { numRuns: 60 },
    );
  });

  it('text[]: given to a statement whose parameter is not text[], the statement fails (not misread)', async () => {
    await expect(db.pool.query('SELECT $1::int[] AS a', [toPgTextArray(['1'])])).rejects.toThrow(
      /binary data has array element type 25 \(text\) instead of expected 23/,
    );
  });

  it('int[] / float8[]', async () => {
    const nums = [0, -1, 2 ** 31 - 1, 1_764_201_600_123];
    const res = await db.pool.query('SELECT $1::int[] AS i, $2::float8[] AS f', [
      toPgNumberArray(nums.slice(0, 3)),
      toPgNumberArray(nums),
    ]);
    expect(res.rows[0].i).toEqual(nums.slice(0, 3));
    expect(res.rows[0].f).toEqual(nums);
  });
});
