export { MessageQueue } from './message-queue.js';
export {
  isSchemaCurrent,
  MIGRATIONS_DIR,
  type MigrateLogger,
  type MigrateOptions,
  type MigrationState,
  migrate,
  migrationNames,
  migrationStatus,
} from './migrate.js';
export {
  type AutovacuumState,
  collapseStatusUpdates,
  type LogMaintenance,
  type LogMaintenanceResult,
  type LogPartition,
  type PersistResult,
  PersistStore,
  type ReadFromOptions,
} from './persist-store.js';
export { createPool, type PoolOptions } from './pool.js';
export { AdvisoryLock, Table } from './schema.js';
export { loadStatements, SQL_DIR, STATEMENTS, type StatementName } from './sql.js';
export { isPgText, toPgJsonMap, toPgText } from './sql-text.js';
export { toStatusUpdates } from './status-update.js';
export type { DeadEntry, NewMessage, OffsetUpdate, StatusUpdate, StoredMessage } from './types.js';
