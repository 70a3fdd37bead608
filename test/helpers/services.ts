import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis, deleteMatching, type RedisConnConfig } from '@fleet/redis';
import {
  createDatabase,
  dropDatabase,
  LOCAL_POSTGRES_URL,
  LOCAL_REDIS_URL,
  onProcessExit,
  startEmbeddedPostgres,
} from '@fleet/services';
import { RUN_ENV, runDatabaseName, runRedisPrefix } from './run-env.js';

/**
 * Services of the current test run, set up by test/setup/global-setup.ts. Outside vitest (a script run by
 * hand) they fall back to the local defaults and a per-process run id.
 */

let fallbackRunId: string | undefined;

/** `<pid>_<random>` of this run. */
export function runId(): string {
  const fromEnv = process.env[RUN_ENV.runId];
  if (fromEnv) return fromEnv;
  fallbackRunId ??= `${process.pid}_${randomBytes(3).toString('hex')}`;
  return fallbackRunId;
}

/** Redis of this run. Use it only under a uniquePrefix(). */
export function redisUrl(): string {
  return process.env[RUN_ENV.redisUrl] ?? LOCAL_REDIS_URL;
}

/** This run's own database, shared by all test files of the run (empty; migrations NOT applied). */
export function databaseUrl(): string {
  return process.env[RUN_ENV.databaseUrl] ?? LOCAL_POSTGRES_URL;
}

/** Largest pg pool size the server takes (embedded PGlite limits connections), or undefined. */
export function maxPoolSize(): number | undefined {
  const raw = process.env[RUN_ENV.postgresMaxConnections];
  return raw ? Number(raw) : undefined;
}

/**
 * Set when this run's Postgres is embedded PGlite (a development fallback: one session, so no row locks
 * between connections). Tests of row locking skip under it, saying why; strict runs never use it.
 */
export const EMBEDDED_POSTGRES_SKIP =
  process.env[RUN_ENV.postgresKind] === 'embedded'
    ? 'embedded PGlite has one session: row locks between connections cannot be tested'
    : undefined;

/**
 * Strict runs (CI: `.ci/run` sets FLEET_TEST_STRICT=1) fail instead of skipping when something a test
 * needs is missing (Chromium, a real Postgres), so a green CI means every test ran.
 */
export function strictRun(): boolean {
  return process.env.FLEET_TEST_STRICT === '1';
}

function random(): string {
  return randomBytes(4).toString('hex');
}

/**
 * A Redis key prefix of its own: `fleet-test-<runid>-<name>-<random>`. Global teardown deletes every key
 * under `fleet-test-<runid>`, so keys made with it never outlive the run.
 */
export function uniquePrefix(name: string): string {
  return `${runRedisPrefix(runId())}-${name.replace(/[^A-Za-z0-9_.-]/g, '-')}-${random()}`;
}

/** Where cleanupRedisPrefix looks: a standalone URL, or a `redis` config section (a cluster: every master). */
export type RedisTarget = string | (Pick<RedisConnConfig, 'url'> & Partial<RedisConnConfig>);

/** The connection config of a target (a bare URL: standalone). */
export function redisConnConfig(target: RedisTarget): RedisConnConfig {
  const t = typeof target === 'string' ? { url: target } : target;
  return { mode: 'standalone', nodes: [], nat_map: {}, ...t };
}

/** Redis glob specials in a literal, escaped (SCAN MATCH). */
function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * Deletes every key of a fleet whose key prefix starts with `prefix` (a fleet's key_prefix, or a run prefix
 * that many fleets' prefixes start with): `<prefix>...` (persister liveness) and `{<prefix>...` (the shard
 * and gateway tags, keys.ts), on every master of a cluster (SCAN + UNLINK key by key, never KEYS, no
 * CROSSSLOT). Returns how many were deleted.
 */
export async function cleanupRedisPrefix(prefix: string, target: RedisTarget = redisUrl()): Promise<number> {
  if (prefix.length < 8) throw new Error(`refusing to delete keys under the short prefix "${prefix}"`);
  const redis = createRedis(redisConnConfig(target), 'admin', { redis: { lazyConnect: true } });
  redis.on('error', () => {});
  try {
    await redis.connect();
    const p = globEscape(prefix);
    return await deleteMatching(redis, [`${p}*`, `{${p}*`]);
  } finally {
    redis.disconnect();
  }
}

export interface FreshDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * An empty database of its own, for tests that need a clean schema (migrations, counts). Named
 * `fleet_test_<runid>_<name>_<random>` so global teardown drops it if drop() is never called.
 * With embedded Postgres (PGlite, one database per server) it is a new in-process PGlite server.
 */
export async function freshDatabase(name: string): Promise<FreshDatabase> {
  if (process.env[RUN_ENV.postgresKind] === 'embedded') {
    const embedded = await startEmbeddedPostgres();
    return { url: embedded.url, drop: () => embedded.stop() };
  }
  const server = process.env[RUN_ENV.postgresServerUrl] ?? LOCAL_POSTGRES_URL;
  const safeName = name.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const dbName = `${runDatabaseName(runId())}_${safeName}`.slice(0, 54) + `_${random()}`;
  const url = await createDatabase(server, dbName);
  return { url, drop: () => dropDatabase(server, dbName) };
}

/**
 * A new temp dir for one test: under this run's temp root (global teardown removes it whole), or, outside
 * a vitest run, under the OS temp dir and removed when the process exits.
 */
export async function testTempDir(name: string): Promise<string> {
  const root = process.env[RUN_ENV.tmpDir];
  const dir = await mkdtemp(join(root ?? tmpdir(), `${name.replace(/[^A-Za-z0-9_.-]/g, '-')}-`));
  if (!root) onProcessExit(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
