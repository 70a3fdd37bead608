import type { Persister } from '../src/persister.js';
import { waitUntil } from './harness.js';

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
