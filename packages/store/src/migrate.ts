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

/** For /readyz: true when every migration in the directory has been applied to this database. */
export async function isSchemaCurrent(pool: pg.Pool, dir: string = MIGRATIONS_DIR): Promise<boolean> {
  const exists = await pool.query<{ t: string | null }>(sql('migrations_table'), [Table.migrations]);
  if (!exists.rows[0]?.t) return false;
  const res = await pool.query<{ name: string }>(sql('applied_migrations'));
  const applied = new Set(res.rows.map((r) => r.name));
  return (await migrationNames(dir)).every((n) => applied.has(n));
}
