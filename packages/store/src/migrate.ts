import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import type pg from 'pg';
import { AdvisoryLock, Table } from './schema.js';
import { sql } from './sql.js';

/** What migrate() logs through (a pino logger fits). */
export interface MigrateLogger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  debug?(msg: string): void;
}

export interface MigrateOptions {
  /** Migrations directory; defaults to ./migrations beside this file (a bundle ships it as dist/migrations). */
  dir?: string;
}

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

const silent: MigrateLogger = { info() {}, warn() {}, error() {} };

/**
 * Applies pending migrations. node-pg-migrate takes a session advisory lock first and, in `wait` mode,
 * blocks on it (its default `fail` mode would throw when another persister is migrating), then reads the
 * applied list under the lock: several persisters starting at once migrate exactly once.
 * All pending migrations run in one transaction. Returns the names applied by this call.
 */
export async function migrate(
  databaseUrl: string,
  log: MigrateLogger = silent,
  opts: MigrateOptions = {},
): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: opts.dir ?? MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: Table.migrations,
    lockValue: AdvisoryLock.migrate,
    advisoryLockMode: 'wait',
    singleTransaction: true,
    checkOrder: true,
    logger: log,
  });
  return applied.map((m) => m.name);
}

/** Migration names found in the directory, in order (the names node-pg-migrate records). */
export async function migrationNames(dir: string = MIGRATIONS_DIR): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => !f.startsWith('.') && /\.(sql|ts|js)$/.test(f));
  return files.map((f) => f.replace(/\.(sql|ts|js)$/, '')).sort();
}

/** One migration as `fleet db status` shows it. */
export interface MigrationState {
  name: string;
  /** When it was applied (node-pg-migrate's run_on); null while pending. */
  appliedAt: Date | null;
  /** applied, pending (in the directory, not applied) or unknown (applied, but not in this directory: the
   *  database was migrated by a newer version). */
  state: 'applied' | 'pending' | 'unknown';
}

/**
 * Every migration of the directory and of the database, in order: those applied (in the order applied),
 * then the pending ones. Reads only (no lock, no table created): before the first migrate all are pending.
 */
export async function migrationStatus(
  pool: pg.Pool,
  dir: string = MIGRATIONS_DIR,
): Promise<MigrationState[]> {
  const names = await migrationNames(dir);
  const exists = await pool.query<{ t: string | null }>(sql('migrations_table'), [Table.migrations]);
  const applied = exists.rows[0]?.t
    ? (await pool.query<{ name: string; run_on: Date }>(sql('applied_migrations'))).rows
    : [];
  const known = new Set(names);
  const done = new Set(applied.map((r) => r.name));
  return [
    ...applied.map(
      (r): MigrationState => ({
        name: r.name,
        appliedAt: r.run_on,
        state: known.has(r.name) ? 'applied' : 'unknown',
      }),
    ),
    ...names
      .filter((n) => !done.has(n))
      .map((name): MigrationState => ({ name, appliedAt: null, state: 'pending' })),
  ];
}

/** For /readyz: true when every migration in the directory has been applied to this database. */
export async function isSchemaCurrent(pool: pg.Pool, dir: string = MIGRATIONS_DIR): Promise<boolean> {
  return (await migrationStatus(pool, dir)).every((m) => m.state !== 'pending');
}
