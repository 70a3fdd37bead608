import { type PrivatePostgres, startPrivatePostgres } from '@fleet/services';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A Postgres cluster of our own that fault tests may stop, restart and kill.
describe('private Postgres', () => {
  let server: PrivatePostgres;
  beforeAll(async () => {
    server = await startPrivatePostgres();
  });
  afterAll(() => server?.dispose());

  async function query<T extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({ connectionString: server.url, connectionTimeoutMillis: 2000 });
    client.on('error', () => {});
    await client.connect();
    try {
      return (await client.query<T>(sql, values)).rows;
    } finally {
      await client.end();
    }
  }

  it('serves, stops, starts and restarts on the same port with the data kept', async () => {
    await query('CREATE TABLE t (id int PRIMARY KEY)');
    await query('INSERT INTO t SELECT generate_series(1, 50)');

    await server.stop();
    await expect(query('SELECT 1')).rejects.toThrow();
    await server.start();
    expect(await query<{ n: number }>('SELECT count(*)::int AS n FROM t')).toEqual([{ n: 50 }]);

    await server.restart();
    expect(await query<{ n: number }>('SELECT count(*)::int AS n FROM t')).toEqual([{ n: 50 }]);
  });

  it('recovers committed rows after kill -9 of the postmaster', async () => {
    await query('INSERT INTO t VALUES ($1)', [51]);
    await server.kill();
    await expect(query('SELECT 1')).rejects.toThrow();
    await server.start();
    expect(await query<{ n: number }>('SELECT count(*)::int AS n FROM t')).toEqual([{ n: 51 }]);
  });
});
