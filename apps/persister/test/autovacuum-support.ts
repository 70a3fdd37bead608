import { type PrivatePostgres, startPrivatePostgres } from '@fleet/services';
import { afterAll, beforeAll } from 'vitest';
import { type Persister, startPersister } from '../src/persister.js';
import { type Harness, harness, memoryLogger, testConfig, waitUntil } from './harness.js';

/** The warn line of the start-up autovacuum check (src/autovacuum-check.ts). */
export const AUTOVACUUM_WARNING = /^autovacuum cannot run for the message log/;

/**
 * fleet_persister_pg_autovacuum_enabled as the persister's registry serves it, once the start-up check (run
 * alongside start-up) has set it; its warning, if any, is logged by then.
 */
export async function autovacuumGauge(p: Persister): Promise<number> {
  let value: number | undefined;
  await waitUntil(
    async () => {
      const m = p.metrics.registry.getSingleMetric('fleet_persister_pg_autovacuum_enabled');
      value = m ? (await m.get()).values[0]?.value : undefined;
      return value !== undefined;
    },
    10_000,
    'fleet_persister_pg_autovacuum_enabled',
  );
  return value as number;
}

/**
 * One autovacuum case: a Redis harness and a Postgres of its own started with `settings` (so the case holds
 * whatever the shared server runs with) before the case's tests, and a persister on them, all closed after.
 */
export function autovacuumCase(tag: string, settings: Record<string, string>) {
  let h: Harness | undefined;
  let pgPrivate: PrivatePostgres | undefined;
  let p: Persister | undefined;
  const log = memoryLogger();
  beforeAll(async () => {
    h = await harness(tag);
    pgPrivate = await startPrivatePostgres({ settings });
  }, 120_000);
  afterAll(async () => {
    await p?.close();
    await pgPrivate?.dispose();
    await h?.close();
  });
  return {
    log,
    /** The private Postgres (once the case's beforeAll ran). */
    url: () => pgPrivate!.url,
    /** Starts the persister on the case's Redis and Postgres. */
    async start(): Promise<Persister> {
      const cfg = testConfig(h!.cfg.redis.key_prefix, pgPrivate!.url, 2, {});
      p = await startPersister(cfg, { logger: log, ops: false, consumerName: tag });
      return p;
    },
  };
}
