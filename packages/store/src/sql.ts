import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Every SQL statement of the store lives in its own file under ./sql (like BullMQ keeps each Lua script in
 * a named file): a header comment names its parameters in order ($1 = ..., $2 = ...), the text is fixed
 * (multi-row statements take arrays through unnest/ANY, never a built string). The directory is read
 * once, at the first use (in practice when a store class is constructed, at start-up), and cached.
 * A bundled app ships the directory as dist/sql beside dist/main.js (package.json "fleet.assets"), which
 * is where this module's URL points once bundled.
 */
export const SQL_DIR = fileURLToPath(new URL('./sql/', import.meta.url));

/** The statements, by file name (without `.sql`). */
export const STATEMENTS = [
  'persist_batch',
  'dequeue_batch',
  'mark_completed',
  'mark_failed',
  'apply_statuses',
  'apply_statuses_anywhere',
  'reprocess_failed',
  'count_pending',
  'save_offset',
  'load_offset',
  'sweep_stale',
  'mirror_open',
  'sweep_ids',
  'pending_ids',
  'read_from',
  'read_from_topic',
  'list_dead',
  'list_dead_topic',
  'count_dead',
  'count_dead_topic',
  'replay_dead',
  'replay_dead_all',
  'purge_dead',
  'log_ensure',
  'log_attach',
  'log_roll',
  'log_retire',
  'log_partitions',
  'log_analyze_young',
  'autovacuum_state',
  'set_lock_timeout',
  'delete_dead_batch',
  'delete_dead_entries',
  'insert_dead_entry',
  'list_dead_entries',
  'try_advisory_lock',
  'advisory_unlock',
  'migrations_table',
  'applied_migrations',
] as const;
export type StatementName = (typeof STATEMENTS)[number];

let cache: ReadonlyMap<string, string> | undefined;

/** Reads every statement file of `dir` (once for the default directory); throws if one is missing. */
export function loadStatements(dir: string = SQL_DIR): ReadonlyMap<string, string> {
  if (dir === SQL_DIR && cache) return cache;
  const texts = new Map<string, string>();
  for (const f of readdirSync(dir)) {
    if (f.endsWith('.sql')) texts.set(f.slice(0, -4), readFileSync(join(dir, f), 'utf8'));
  }
  const missing = STATEMENTS.filter((n) => !texts.has(n));
  if (missing.length > 0) throw new Error(`SQL statements missing in ${dir}: ${missing.join(', ')}`);
  if (dir === SQL_DIR) cache = texts;
  return texts;
}

/** The text of one statement. */
export function sql(name: StatementName): string {
  return loadStatements().get(name) as string;
}

/**
 * A named statement for pool.query: node-postgres parses and plans it once per connection (the name is
 * `fleet_<file>`), so hot statements cost one Bind/Execute per call.
 */
export function prepared(name: StatementName): { name: string; text: string } {
  return { name: `fleet_${name}`, text: sql(name) };
}
