/**
 * The one home of the persister's SQL names. The tables themselves are created by the
 * migrations in ./migrations (node-pg-migrate); keep both in step.
 */
export const Table = {
  messages: 'messages',
  /** Status and updated_at of every `messages` row that is not COMPLETED (the hot-status-updates migration). */
  messagesOpen: 'messages_open',
  consumerOffsets: 'consumer_offsets',
  deadEntries: 'dead_entries',
  /** node-pg-migrate's bookkeeping table. */
  migrations: 'fleet_migrations',
} as const;

/** Columns of `messages`. */
export const MessageColumn = {
  seq: 'seq',
  id: 'id',
  streamId: 'stream_id',
  topic: 'topic',
  type: 'type',
  priority: 'priority',
  sentAt: 'sent_at',
  envelope: 'envelope',
  headers: 'headers',
  traceparent: 'traceparent',
  traceId: 'trace_id',
  replyTo: 'reply_to',
  status: 'status',
  retryCount: 'retry_count',
  lastError: 'last_error',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
} as const;

/** Columns of `consumer_offsets` (`offset` is a reserved word: always quoted in SQL). */
export const OffsetColumn = {
  group: 'consumer_group',
  topic: 'topic',
  offset: 'offset',
  updatedAt: 'updated_at',
} as const;

/** Columns of `dead_entries`. */
export const DeadEntryColumn = {
  stream: 'stream',
  streamId: 'stream_id',
  reason: 'reason',
  fields: 'fields',
  createdAt: 'created_at',
} as const;

/** Advisory lock keys (pg_advisory_lock bigint space) used by the persister. */
export const AdvisoryLock = {
  /** Held by node-pg-migrate while migrating, so several persisters can start at once. */
  migrate: 7_241_865_325_800_001,
  /** Held while one persister runs retention; the others skip that round. */
  retention: 7_241_865_325_800_002,
} as const;
