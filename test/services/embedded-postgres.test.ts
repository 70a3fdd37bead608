import { type EmbeddedPostgres, startEmbeddedPostgres } from '@fleet/services';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// PGlite has one session; the socket server multiplexes a pg.Pool over it. Transactions must stay
// isolated per connection even when their statements interleave.
describe('embedded Postgres (PGlite over the wire protocol)', () => {
  let server: EmbeddedPostgres;
  let pool: pg.Pool;
  beforeAll(async () => {
    server = await startEmbeddedPostgres();
    pool = new pg.Pool({ connectionString: server.url, max: 8 });
    await pool.query('CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)');
    await pool.query('CREATE TABLE counter (n int NOT NULL)');
    await pool.query('INSERT INTO counter VALUES (0)');
  }, 60_000);
  afterAll(async () => {
    await pool?.end();
    await server?.stop();
  });

  it('runs parameterized queries from a pool concurrently', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        pool.query<{ x: number; s: string }>('SELECT $1::int + 1 AS x, $2::text AS s', [i, `s${i}`]),
      ),
    );
    expect(results.map((r) => r.rows[0])).toEqual(results.map((_, i) => ({ x: i + 1, s: `s${i}` })));
  });

  it('keeps two interleaved transactions apart and commits both', async () => {
    const a = await pool.connect();
    const b = await pool.connect();
    try {
      await a.query('BEGIN');
      await a.query('INSERT INTO t VALUES (1, $1)', ['a']);
      // b's statements are sent while a's transaction is open: they must wait, not join it.
      const bDone = (async () => {
        await b.query('BEGIN');
        await b.query('INSERT INTO t VALUES (2, $1)', ['b']);
        await b.query('UPDATE counter SET n = n + 10');
        await b.query('COMMIT');
      })();
      await new Promise((r) => setTimeout(r, 20));
      await a.query('UPDATE counter SET n = n + 1');
      expect((await a.query('SELECT id FROM t ORDER BY id')).rows).toEqual([{ id: 1 }]);
      await a.query('COMMIT');
      await bDone;
    } finally {
      a.release();
      b.release();
    }
    expect((await pool.query('SELECT id, v FROM t ORDER BY id')).rows).toEqual([
      { id: 1, v: 'a' },
      { id: 2, v: 'b' },
    ]);
    expect((await pool.query('SELECT n FROM counter')).rows).toEqual([{ n: 11 }]);
  });

  it('commits many concurrent transactions and rolls back the ones that ask', async () => {
    async function txn(i: number): Promise<void> {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        await c.query('INSERT INTO t VALUES ($1, $2)', [i, `v${i}`]);
        await new Promise((r) => setTimeout(r, i % 3));
        await c.query('UPDATE counter SET n = n + 1');
        expect((await c.query('SELECT v FROM t WHERE id = $1', [i])).rows).toEqual([{ v: `v${i}` }]);
        await c.query(i % 5 === 0 ? 'ROLLBACK' : 'COMMIT');
      } finally {
        c.release();
      }
    }
    await Promise.all(Array.from({ length: 100 }, (_, i) => txn(100 + i)));
    expect((await pool.query('SELECT count(*)::int AS n FROM t WHERE id >= 100')).rows).toEqual([{ n: 80 }]);
    expect((await pool.query('SELECT n FROM counter')).rows).toEqual([{ n: 91 }]);
  });

  it('rolls back the open transaction of a client that disconnects', async () => {
    const c = new pg.Client(server.url);
    await c.connect();
    await c.query('BEGIN');
    await c.query('INSERT INTO t VALUES (999, $1)', ['lost']);
    await c.end();
    expect((await pool.query('SELECT count(*)::int AS n FROM t WHERE id = 999')).rows).toEqual([{ n: 0 }]);
  });
});
