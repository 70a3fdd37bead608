import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createDatabase,
  dropDatabase,
  ensurePostgres,
  ensureRedis,
  type ServiceHandle,
  ServiceUnavailableError,
} from '@fleet/services';
import pg from 'pg';
import { RUN_ENV, runDatabaseName, runRedisPrefix } from '../helpers/run-env.js';
import { cleanupRedisPrefix } from '../helpers/services.js';

/**
 * Vitest globalSetup: finds (or starts) Redis and Postgres once per run, creates this run's database and
 * hands the URLs to the test workers through the environment (see RUN_ENV). Teardown drops the run's
 * databases, deletes its Redis keys and stops what it started.
 */
const log = (line: string) => process.stderr.write(`[services] ${line}\n`);

/**
 * A setup failure the user can act on: ONE line and a failed run. Throwing would make vitest print an
 * "Unhandled Error" banner and a misleading "No test files found", so print the line and exit instead.
 */
function fail(err: unknown): never {
  const message =
    err instanceof ServiceUnavailableError
      ? err.message
      : `test setup failed: ${(err as Error).message.split('\n')[0]}`;
  process.stderr.write(`\n${message}\n\n`);
  process.exit(1);
}

/** Databases of this run: the run database and every freshDatabase() a test forgot to drop. */
async function runDatabases(serverUrl: string, runId: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname = $1 OR starts_with(datname, $2)',
      [runDatabaseName(runId), `${runDatabaseName(runId)}_`],
    );
    return rows.map((r) => r.datname);
  } finally {
    await client.end();
  }
}

export default async function setup(): Promise<() => Promise<void>> {
  const runId = `${process.pid}_${randomBytes(3).toString('hex')}`;
  const started: ServiceHandle[] = [];
  let redis: ServiceHandle;
  let postgres: ServiceHandle;
  try {
    redis = await ensureRedis({ log });
    started.push(redis);
    // Strict runs (CI) need a real Postgres: PGlite passes the row-locking tests without any locking.
    postgres = await ensurePostgres({ log, allowEmbedded: process.env.FLEET_TEST_STRICT !== '1' });
    started.push(postgres);
  } catch (err) {
    await Promise.all(started.map((s) => s.stop().catch(() => {})));
    fail(err);
  }

  // PGlite serves one database per server: the run uses the embedded server's own database.
  let databaseUrl = postgres.url;
  if (postgres.kind !== 'embedded') {
    try {
      databaseUrl = await createDatabase(postgres.url, runDatabaseName(runId));
    } catch (err) {
      await Promise.all(started.map((s) => s.stop().catch(() => {})));
      fail(err);
    }
  }

  const tmpDir = mkdtempSync(join(tmpdir(), `fleet-test-${runId}-`));
  process.env[RUN_ENV.runId] = runId;
  process.env[RUN_ENV.tmpDir] = tmpDir;
  process.env[RUN_ENV.redisUrl] = redis.url;
  process.env[RUN_ENV.databaseUrl] = databaseUrl;
  process.env[RUN_ENV.postgresServerUrl] = postgres.url;
  process.env[RUN_ENV.postgresKind] = postgres.kind;
  if (postgres.maxConnections) process.env[RUN_ENV.postgresMaxConnections] = String(postgres.maxConnections);
  if (redis.kind !== 'local' || postgres.kind !== 'local') {
    log(`redis: ${redis.kind}, postgres: ${postgres.kind}`);
  }

  return async () => {
    if (postgres.kind !== 'embedded') {
      try {
        for (const name of await runDatabases(postgres.url, runId)) await dropDatabase(postgres.url, name);
      } catch (err) {
        log(`could not drop this run's databases: ${(err as Error).message}`);
      }
    }
    try {
      await cleanupRedisPrefix(runRedisPrefix(runId), redis.url);
    } catch (err) {
      log(`could not delete this run's Redis keys: ${(err as Error).message}`);
    }
    await Promise.all(started.map((s) => s.stop().catch(() => {})));
    rmSync(tmpDir, { recursive: true, force: true });
  };
}
