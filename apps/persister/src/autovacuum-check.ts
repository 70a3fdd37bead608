import type { AutovacuumState, PersistStore } from '@fleet/store';
import { errorText, type Logger } from './log.js';
import type { PersisterMetrics } from './metrics.js';

/** What keeps autovacuum from the message log's tables, e.g. `autovacuum=off`, `messages_open autovacuum_enabled=false`. */
export function autovacuumBlockers(s: AutovacuumState): string[] {
  const off: string[] = [];
  if (!s.autovacuum) off.push('autovacuum=off');
  if (!s.trackCounts) off.push('track_counts=off');
  for (const t of s.tablesOff) off.push(`${t} autovacuum_enabled=false`);
  return off;
}

/**
 * Once at start: can autovacuum run for `messages` and `messages_open`? Every message updates its
 * `messages` row and every row still open at the sweep goes through `messages_open`, so without
 * autovacuum dead rows pile up and Postgres CPU per message grows, silently. Sets
 * fleet_persister_pg_autovacuum_enabled and warns once when it cannot; a check that fails (permissions,
 * Postgres away) is logged at debug and leaves the gauge unset: it never holds up the persister.
 */
export async function checkAutovacuum(
  store: PersistStore,
  metrics: PersisterMetrics,
  log: Logger,
): Promise<void> {
  let state: AutovacuumState;
  try {
    state = await store.autovacuumState();
  } catch (err) {
    log.debug({ err: errorText(err) }, 'autovacuum check failed; skipped');
    return;
  }
  const off = autovacuumBlockers(state);
  metrics.setPgAutovacuumEnabled(off.length === 0);
  if (off.length > 0)
    log.warn(
      { off },
      `autovacuum cannot run for the message log (${off.join(', ')}): dead rows pile up in messages_open and the partitions of messages and Postgres CPU per message grows; turn it on (docs/operations.md, "PostgreSQL")`,
    );
}
