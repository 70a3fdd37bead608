import type { FleetConfig } from '@fleet/config';
import pg from 'pg';

export interface PoolOptions {
  /** Shown in pg_stat_activity. */
  applicationName?: string;
  /** Errors of idle clients (Postgres restarted, network cut). Without a listener they would crash the process. */
  onError?: (err: Error) => void;
  /** How long a query waits for a free or new connection before failing (default 10 s). */
  connectionTimeoutMs?: number;
}

/**
 * Settings every connection of the fleet starts with (the startup packet's `options`: no round trip).
 * jit=off: the fleet runs short statements only, but on a big log the planner's cost estimates pass
 * jit_above_cost and each run compiles again: a sweep finding nothing took 93-97 ms with JIT against 4-6
 * ms without on a 5M-row log (docs/benchmarks.md, "pg-scale"). A `?options=` in the database URL replaces
 * these (node-postgres takes the URL's).
 */
export const SESSION_OPTIONS = '-c jit=off';

/** A Postgres pool sized from `database.pool` (the persister's; the CLI passes a small one). */
export function createPool(
  databaseUrl: string,
  pool: FleetConfig['database']['pool'],
  opts: PoolOptions = {},
): pg.Pool {
  const p = new pg.Pool({
    connectionString: databaseUrl,
    min: pool.min_connections,
    max: pool.max_connections,
    idleTimeoutMillis: pool.idle_timeout_s * 1000,
    connectionTimeoutMillis: opts.connectionTimeoutMs ?? 10_000,
    application_name: opts.applicationName ?? 'fleet-persister',
    options: SESSION_OPTIONS,
    keepAlive: true,
  });
  // A broken idle connection is dropped by the pool; the next query reconnects or fails to its caller.
  p.on('error', opts.onError ?? (() => {}));
  return p;
}

/** A client checked out of the pool by checkout(). */
export interface CheckedOut {
  client: pg.PoolClient;
  /** The connection's loss, if its 'error' event came (Postgres killed or restarted). */
  lost(): Error | undefined;
  /** Back to the pool; destroyed instead when `err` is given or the connection was lost. */
  release(err?: Error): void;
}

/**
 * pool.connect() for code that holds a client across several queries (a transaction, a session lock).
 * A checked-out client reports a lost connection as an 'error' event besides rejecting the query in
 * flight; with no listener that event would end the process (pool.query listens for its own clients).
 */
export async function checkout(pool: pg.Pool): Promise<CheckedOut> {
  const client = await pool.connect();
  let lost: Error | undefined;
  const onError = (err: Error) => {
    lost ??= err;
  };
  client.on('error', onError);
  return {
    client,
    lost: () => lost,
    release(err) {
      client.off('error', onError);
      client.release(err ?? lost);
    },
  };
}
