import { startEmbeddedPostgres } from './embedded-postgres.js';
import { ServiceUnavailableError } from './errors.js';
import { hostPort } from './host-port.js';
import { startPrivatePostgres } from './private-postgres.js';
import { startPrivateRedis } from './private-redis.js';
import { probePostgres, probeRedis } from './probe.js';
import { findPostgresBin, which } from './which.js';

/** Where a service came from: configured URL, the machine's default instance, one we started, or PGlite. */
export type ServiceKind = 'configured' | 'local' | 'private' | 'embedded';

export interface ServiceHandle {
  url: string;
  kind: ServiceKind;
  /** Set when the server accepts a limited number of connections (embedded PGlite): size pools below it. */
  maxConnections?: number;
  /** Stops what we started (private/embedded); a no-op for configured and local services. */
  stop(): Promise<void>;
}

export interface EnsureOptions {
  /** Explicit URL; wins over the environment. */
  url?: string;
  /** Progress lines (e.g. "starting a private redis-server"); silent by default. */
  log?: (line: string) => void;
  /** Environment to read FLEET_*_URL and PATH from (default process.env); tests use it to simulate machines. */
  env?: NodeJS.ProcessEnv;
  /** The machine's default instance to probe (default the standard local URL). */
  localUrl?: string;
  /** Connect timeout for probes. */
  probeTimeoutMs?: number;
}

export const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';
export const LOCAL_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

const noop = async () => {};

/**
 * Finds or starts Redis: `opts.url` / FLEET_REDIS_URL, else 127.0.0.1:6379, else a private redis-server
 * from PATH. Throws ServiceUnavailableError (one line, how to get Redis) when none of these works.
 */
export async function ensureRedis(opts: EnsureOptions = {}): Promise<ServiceHandle> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => {});
  const timeout = opts.probeTimeoutMs ?? 1000;
  const configured = opts.url ?? env.FLEET_REDIS_URL;
  if (configured) {
    if (await probeRedis(configured, timeout * 3)) return { url: configured, kind: 'configured', stop: noop };
    const source = opts.url ? 'the configured url' : 'FLEET_REDIS_URL';
    throw new ServiceUnavailableError(
      `Redis not reachable at ${hostPort(configured, 6379)} (${source}): start it, fix the url, or unset it to let Fleet find or start one`,
    );
  }
  const local = opts.localUrl ?? LOCAL_REDIS_URL;
  if (await probeRedis(local, timeout)) return { url: local, kind: 'local', stop: noop };
  const binary = which('redis-server', env);
  if (!binary) {
    throw new ServiceUnavailableError(
      `Redis not reachable at ${hostPort(local, 6379)} and no redis-server on PATH: install it (apt install redis-server / brew install redis) or run docker compose up -d redis, or set FLEET_REDIS_URL`,
    );
  }
  log(`Redis not reachable at ${hostPort(local, 6379)}: starting a private redis-server (${binary})`);
  const redis = await startPrivateRedis({ binary });
  return { url: redis.url, kind: 'private', stop: () => redis.dispose() };
}

/**
 * Finds or starts Postgres: `opts.url` / FLEET_DATABASE_URL, else postgres@127.0.0.1:5432, else a private
 * cluster (initdb + pg_ctl from PATH or /usr/lib/postgresql/<v>/bin), else embedded PGlite on a local
 * port. Throws ServiceUnavailableError only when a configured URL is unreachable or PGlite fails.
 */
export async function ensurePostgres(
  opts: EnsureOptions & { allowEmbedded?: boolean; debianRoot?: string } = {},
): Promise<ServiceHandle> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => {});
  const timeout = opts.probeTimeoutMs ?? 2000;
  const configured = opts.url ?? env.FLEET_DATABASE_URL;
  if (configured) {
    if (await probePostgres(configured, timeout * 2))
      return { url: configured, kind: 'configured', stop: noop };
    const source = opts.url ? 'the configured url' : 'FLEET_DATABASE_URL';
    throw new ServiceUnavailableError(
      `Postgres not reachable at ${hostPort(configured, 5432)} (${source}): start it, fix the url, or unset it to let Fleet find or start one`,
    );
  }
  const local = opts.localUrl ?? LOCAL_POSTGRES_URL;
  if (await probePostgres(local, timeout)) return { url: local, kind: 'local', stop: noop };

  const bin = findPostgresBin(env, opts.debianRoot);
  let privateError = '';
  if (bin) {
    log(`Postgres not reachable at ${hostPort(local, 5432)}: starting a private cluster (${bin})`);
    try {
      const pg = await startPrivatePostgres({ binDir: bin });
      return { url: pg.url, kind: 'private', stop: () => pg.dispose() };
    } catch (err) {
      privateError = (err as Error).message;
      log(`${privateError}; falling back to embedded PGlite`);
    }
  }
  if (opts.allowEmbedded === false) {
    throw new ServiceUnavailableError(
      `Postgres not reachable at ${hostPort(local, 5432)} and ${privateError || 'no initdb/pg_ctl found'}: install PostgreSQL (apt install postgresql / brew install postgresql) or run docker compose up -d postgres, or set FLEET_DATABASE_URL`,
    );
  }
  log(`Postgres not reachable at ${hostPort(local, 5432)}: starting embedded PGlite`);
  try {
    const embedded = await startEmbeddedPostgres();
    return {
      url: embedded.url,
      kind: 'embedded',
      maxConnections: embedded.maxConnections,
      stop: () => embedded.stop(),
    };
  } catch (err) {
    throw new ServiceUnavailableError(
      `Postgres not reachable at ${hostPort(local, 5432)} and embedded PGlite failed (${(err as Error).message.split('\n')[0]}): install PostgreSQL (apt install postgresql / brew install postgresql) or run docker compose up -d postgres, or set FLEET_DATABASE_URL`,
    );
  }
}
