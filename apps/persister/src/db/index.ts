export {
  isSchemaCurrent,
  MIGRATIONS_DIR,
  type MigrateLogger,
  type MigrateOptions,
  migrate,
  migrationNames,
} from './migrate.js';
export { createPool, type PoolOptions } from './pool.js';
export {
  collapseStatusUpdates,
  compareOffsets,
  PersistentQueue,
  type PersistResult,
  type ReadFromOptions,
} from './queue.js';
export { AdvisoryLock, DeadEntryColumn, MessageColumn, OffsetColumn, Table } from './schema.js';
export { isPgText, toPgJsonMap, toPgText } from './sql-text.js';
export { toStatusUpdates } from './status-update.js';
export type { DeadEntry, NewMessage, OffsetUpdate, StatusUpdate, StoredMessage } from './types.js';
