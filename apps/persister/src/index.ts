export { retryDelayMs } from './backoff.js';
export {
  AdvisoryLock,
  collapseStatusUpdates,
  compareOffsets,
  createPool,
  type DeadEntry,
  DeadEntryColumn,
  isPgText,
  isSchemaCurrent,
  MessageColumn,
  MIGRATIONS_DIR,
  type MigrateLogger,
  type MigrateOptions,
  migrate,
  migrationNames,
  type NewMessage,
  OffsetColumn,
  type OffsetUpdate,
  PersistentQueue,
  type PersistResult,
  type PoolOptions,
  type ReadFromOptions,
  type StatusUpdate,
  type StoredMessage,
  Table,
  toPgJsonMap,
  toPgText,
  toStatusUpdates,
} from './db/index.js';
export { Dispatcher } from './dispatcher.js';
export { batchJobId, buildJobs, chunkJobMessages } from './jobs.js';
export {
  deadLetterView,
  listDeadLetters,
  type OpsContext,
  openOpsContext,
  purgeDeadLetters,
  replayDeadLetters,
  replayRange,
} from './ops.js';
export { type Persister, type PersisterOptions, startPersister } from './persister.js';
export type { QueueApi } from './queue-api.js';
export { decodeEntry } from './stream-entry-decoder.js';
