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
    keepAlive: true,
  });
  // A broken idle connection is dropped by the pool; the next query reconnects or fails to its caller.
  p.on('error', opts.onError ?? (() => {}));
  return p;
}
