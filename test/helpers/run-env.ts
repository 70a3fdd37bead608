/**
 * Environment variables the global setup (test/setup/global-setup.ts) sets for every test worker.
 * Forked vitest workers inherit the main process's env, so plain process.env carries them.
 */
export const RUN_ENV = {
  /** Redis of this run. */
  redisUrl: 'FLEET_REDIS_URL',
  /** This run's own database (empty, schema NOT migrated). */
  databaseUrl: 'FLEET_DATABASE_URL',
  /** `<pid>_<random>`: names this run's Redis prefixes and databases so teardown finds them. */
  runId: 'FLEET_TEST_RUN_ID',
  /** Postgres server (its default database) where fresh databases are created. */
  postgresServerUrl: 'FLEET_TEST_POSTGRES_SERVER_URL',
  /** configured | local | private | embedded (embedded: PGlite, one database per server). */
  postgresKind: 'FLEET_TEST_POSTGRES_KIND',
  /** Temp dir of this run (test files make their dirs below it; global teardown removes it). */
  tmpDir: 'FLEET_TEST_TMPDIR',
  /** Set when Postgres limits connections (embedded): keep pools at or below it. */
  postgresMaxConnections: 'FLEET_TEST_POSTGRES_MAX_CONNECTIONS',
} as const;

/** Redis key prefix every key of run `runId` starts with. */
export function runRedisPrefix(runId: string): string {
  return `fleet-test-${runId}`;
}

/** Database name prefix of run `runId` (the run database is exactly this). */
export function runDatabaseName(runId: string): string {
  return `fleet_test_${runId}`;
}
