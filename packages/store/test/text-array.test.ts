import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PgNumberType, toPgNumberArray, toPgTextArray } from '../src/sql-text.js';
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

  it("smallint[] / int[] / float8[]: read back unchanged, as node-postgres' own arrays", async () => {
    const read = async (values: number[], type: PgNumberType, sqlType: string) => {
      const { rows } = await db.pool.query<{ a: number[]; same: boolean }>(
        `SELECT $1::${sqlType}[] AS a, $1::${sqlType}[] IS NOT DISTINCT FROM $2::${sqlType}[] AS same`,
        [toPgNumberArray(values, type), values],
      );
      expect(rows[0]!.same).toBe(true);
      return rows[0]!.a.map(Number);
    };
    expect(await read([0, -1, 2 ** 15 - 1, -(2 ** 15)], 'int2', 'smallint')).toEqual([
      0,
      -1,
      2 ** 15 - 1,
      -(2 ** 15),
    ]);
    expect(await read([0, -1, 2 ** 31 - 1, -(2 ** 31)], 'int4', 'int')).toEqual([
      0,
      -1,
      2 ** 31 - 1,
      -(2 ** 31),
    ]);
    expect(await read([0, -1.5, 1_764_201_600_123, 2 ** 53], 'float8', 'float8')).toEqual([
      0,
      -1.5,
      1_764_201_600_123,
      2 ** 53,
    ]);
    expect(await read([], 'int4', 'int')).toEqual([]);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 20 }),
        fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 20 }),
        async (ints, doubles) => {
          expect(await read(ints, 'int4', 'int')).toEqual(ints);
          expect(await read(doubles, 'float8', 'float8')).toEqual(doubles);
        },
      ),
      { numRuns: 60 },
    );
    // A value the element type cannot hold is refused before anything is sent.
    expect(() => toPgNumberArray([2 ** 15], 'int2')).toThrow(RangeError);
  });

  it('number arrays: given to a parameter of another element type, the statement fails (not misread)', async () => {
    await expect(db.pool.query('SELECT $1::int[] AS a', [toPgNumberArray([1], 'int2')])).rejects.toThrow(
      /binary data has array element type 21 \(smallint\) instead of expected 23/,
    );
  });
});
