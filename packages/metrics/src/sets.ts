import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { BATCH_SIZE_BUCKETS, SECONDS_BUCKETS } from './buckets.js';
import { LeanHistogram } from './lean-histogram.js';
import { registersOf } from './registry.js';

// Small constructors so each set reads like a table of names.
function counter<L extends string>(r: Registry, name: string, help: string, labelNames: readonly L[] = []) {
  return new Counter<L>({ name, help, labelNames, registers: registersOf(r) });
}
function gauge<L extends string>(r: Registry, name: string, help: string, labelNames: readonly L[] = []) {
  return new Gauge<L>({ name, help, labelNames, registers: registersOf(r) });
}
function histogram<L extends string>(
  r: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  buckets = SECONDS_BUCKETS,
) {
  return new Histogram<L>({ name, help, labelNames, buckets, registers: registersOf(r) });
}
/** A histogram observed per message (LeanHistogram: no per-observation label hashing). */
function perMessageHistogram<L extends string>(
  r: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
) {
  return new LeanHistogram<L>(name, help, labelNames, SECONDS_BUCKETS, registersOf(r));
}

export function gatewayMetrics(r: Registry) {
  return {
    connections: gauge(r, 'fleet_gateway_connections', 'Open client connections.'),
    connectionsTotal: counter(r, 'fleet_gateway_connections_total', 'Client connections accepted.'),
    framesIn: counter(r, 'fleet_gateway_frames_in_total', 'Frames received, by frame type.', ['type']),
    framesOut: counter(r, 'fleet_gateway_frames_out_total', 'Frames sent, by frame type.', ['type']),
    bytesIn: counter(r, 'fleet_gateway_bytes_in_total', 'Bytes read from client sockets.'),
    bytesOut: counter(r, 'fleet_gateway_bytes_out_total', 'Bytes written to client sockets.'),
    errors: counter(r, 'fleet_gateway_errors_total', 'Error frames sent, by error code.', ['code']),
    messagesReceived: counter(
      r,
      'fleet_gateway_messages_received_total',
      'Messages accepted, by topic label.',
      ['topic'],
    ),
    messageBytes: counter(r, 'fleet_gateway_message_bytes_total', 'Payload bytes accepted, by topic label.', [
      'topic',
    ]),
    ackLatency: perMessageHistogram(
      r,
      'fleet_gateway_ack_latency_seconds',
      'Frame received to ACK sent (stream ACKs).',
    ),
    durableAckLatency: perMessageHistogram(
      r,
      'fleet_gateway_durable_ack_latency_seconds',
      'Frame received to durable ACK sent (appended, committed to Postgres, notice received).',
    ),
    inflight: gauge(r, 'fleet_gateway_inflight', 'Messages read but not yet ACKed (whole process).'),
    pausedSockets: gauge(r, 'fleet_gateway_paused_sockets', 'Sockets paused by backpressure.'),
    redisAppendBatchSize: histogram(
      r,
      'fleet_gateway_redis_append_batch_size',
      'Messages per pipelined XADD round trip.',
      [],
      BATCH_SIZE_BUCKETS,
    ),
    overloaded: gauge(
      r,
      'fleet_gateway_overloaded',
      '1 while Redis pressure makes the gateway answer PUBLISH/REQUEST with OVERLOADED.',
    ),
    redisMemoryRatio: gauge(
      r,
      'fleet_gateway_redis_memory_ratio',
      'Redis used_memory / maxmemory at the last pressure sample (0 without maxmemory).',
    ),
    ingestBacklog: gauge(
      r,
      'fleet_gateway_ingest_backlog_messages',
      'Messages in the ingest streams at the last pressure sample (entries x messages per entry, estimated).',
    ),
  };
}
export type GatewayMetrics = ReturnType<typeof gatewayMetrics>;

export const QUEUE_JOB_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;

export function persisterMetrics(r: Registry) {
  return {
    messagesPersisted: counter(
      r,
      'fleet_persister_messages_persisted_total',
      'Messages committed to Postgres.',
      ['topic'],
    ),
    persistBatch: histogram(r, 'fleet_persister_persist_batch_seconds', 'One batch: INSERT + offset commit.'),
    persistBatchSize: histogram(
      r,
      'fleet_persister_persist_batch_size',
      'Messages per persisted batch.',
      [],
      BATCH_SIZE_BUCKETS,
    ),
    pgQuery: histogram(r, 'fleet_persister_pg_query_seconds', 'Postgres query latency, by operation.', [
      'op',
    ]),
    // Was fleet_persister_pg_pool_total: a gauge must not end in _total (promtool check metrics).
    pgPoolConnections: gauge(
      r,
      'fleet_persister_pg_pool_connections',
      'Postgres pool connections (idle and in use).',
    ),
    pgPoolIdle: gauge(r, 'fleet_persister_pg_pool_idle', 'Idle Postgres pool connections.'),
    pgPoolWaiting: gauge(r, 'fleet_persister_pg_pool_waiting', 'Queries waiting for a pool connection.'),
    streamLength: gauge(r, 'fleet_stream_length', 'Entries in the ingest stream (XLEN).', ['stream']),
    streamLag: gauge(r, 'fleet_stream_lag', 'Entries not yet delivered to the consumer group.', ['stream']),
    streamPending: gauge(r, 'fleet_stream_pending', 'Entries delivered but not acknowledged.', ['stream']),
    streamBacklogAge: gauge(
      r,
      'fleet_stream_backlog_age_seconds',
      'Age of the oldest entry its group has not acknowledged (pending or not yet delivered); 0 when none.',
      ['stream'],
    ),
    ready: gauge(
      r,
      'fleet_persister_ready',
      '1 while /readyz would answer 200 (Redis, Postgres, migrations, stream reads), sampled at start and every monitoring.interval_ms.',
    ),
    queueJobs: gauge(r, 'fleet_queue_jobs', 'BullMQ jobs by queue and state.', ['queue', 'state']),
    retries: counter(r, 'fleet_persister_retries_total', 'Messages re-enqueued for another attempt.'),
    deadLetters: counter(r, 'fleet_dead_letters_total', 'Messages dead-lettered, by reason.', ['reason']),
    statusUpdates: counter(r, 'fleet_persister_status_updates_total', 'messages.status updates, by status.', [
      'status',
    ]),
    jobsEnqueued: counter(r, 'fleet_persister_jobs_enqueued_total', 'BullMQ jobs added.'),
  };
}
export type PersisterMetrics = ReturnType<typeof persisterMetrics>;

export function workerMetrics(r: Registry) {
  return {
    messagesProcessed: counter(
      r,
      'fleet_worker_messages_processed_total',
      'Messages handled, by topic label and status.',
      ['topic', 'status'],
    ),
    messageLatency: perMessageHistogram(
      r,
      'fleet_message_latency_seconds',
      'End to end: envelope timestamp to handler done.',
    ),
    handler: perMessageHistogram(r, 'fleet_worker_handler_seconds', 'Handler run time, by topic label.', [
      'topic',
    ]),
    unrouted: counter(r, 'fleet_worker_unrouted_total', 'Messages no subscription matched (dead-lettered).'),
    jobs: counter(r, 'fleet_worker_jobs_total', 'BullMQ jobs processed.'),
    inflight: gauge(r, 'fleet_worker_inflight', 'Messages being handled now.'),
    handlerErrors: counter(r, 'fleet_worker_handler_errors_total', 'Handler failures, by reason.', [
      'reason',
    ]),
  };
}
export type WorkerMetrics = ReturnType<typeof workerMetrics>;

export function configReloadMetrics(r: Registry) {
  return {
    reloads: counter(r, 'fleet_config_reloads_total', 'Config reloads, by result (applied, rejected).', [
      'result',
    ]),
    // Prometheus' own prometheus_config_last_reload_successful: an alert clears once a good file is back.
    // A cluster primary shows the worst of its processes (min).
    lastReloadSuccessful: new Gauge({
      name: 'fleet_config_last_reload_successful',
      help: '0 while the config file on disk was rejected at the last reload (the process runs the previous config), else 1.',
      registers: registersOf(r),
      aggregator: 'min',
    }),
  };
}
export type ConfigReloadMetrics = ReturnType<typeof configReloadMetrics>;
