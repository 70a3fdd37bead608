/**
 * Names the code needs outside the SQL files: tables (node-pg-migrate's bookkeeping table, tests) and
 * advisory lock keys. The tables and their columns are created by ./migrations (node-pg-migrate) and
 * used by the statements in ./sql; keep them in step.
 */
export const Table = {
  messages: 'messages',
  /** Status and updated_at of the `messages` rows not COMPLETED (hot-status-updates; mirrored late since open-rows-mirrored-late). */
  messagesOpen: 'messages_open',
  /** Each persisted batch not yet mirrored into messages_open: seq range, rows open (open-rows-mirrored-late). */
  messagesUnmirrored: 'messages_unmirrored',
  consumerOffsets: 'consumer_offsets',
  deadEntries: 'dead_entries',
  /** node-pg-migrate's bookkeeping table. */
  migrations: 'fleet_migrations',
} as const;

/** Advisory lock keys (pg_advisory_lock bigint space) used by the store. */
export const AdvisoryLock = {
  /** Held by node-pg-migrate while migrating, so several persisters can start at once. */
  migrate: 7_241_865_325_800_001,
  /** Held while one persister runs retention; the others skip that round. */
  retention: 7_241_865_325_800_002,
} as const;
