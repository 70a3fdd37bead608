import { hostname } from 'node:os';
import type { FleetConfig } from '@fleet/config';
import { Dispatcher, dispatchLimits, JobQueue } from '@fleet/dispatch';
import type { Registry } from '@fleet/metrics';
import { FleetKeys } from '@fleet/protocol';
import { createRedis, type FleetRedis, isCluster } from '@fleet/redis';
import { createPool, isSchemaCurrent, migrate, PersistStore } from '@fleet/store';
import type { Telemetry } from '@fleet/tracing';
import type { Queue } from 'bullmq';
import type pg from 'pg';
import { checkAutovacuum } from './autovacuum-check.js';
import { StateLog } from './dependency-state.js';
import { DispatchGate } from './dispatch-gate.js';
import { IngestConsumer, type ReaderLoop } from './ingest-consumer.js';
import { Liveness } from './liveness.js';
import { defaultLogger, errorText, type Logger } from './log.js';
import { createPersisterMetrics, type PersisterMetrics } from './metrics.js';
import { sampleBacklog } from './monitor.js';
import { startOpsServer } from './ops-server.js';
import { every } from './repeat.js';
import { RetryScheduler } from './retry-scheduler.js';
import { StatusConsumer } from './status-consumer.js';
import { Sweeper } from './sweeper.js';

export interface PersisterOptions {
  logger?: Logger;
  /** Consumer name in the stream groups; default `<hostname>-<pid>` (a restart is a new consumer). */
  consumerName?: string;
  /** Registry the persister's metrics join (default: a registry of its own, served at /metrics). */
  registry?: Registry;
  /** Apply pending migrations first (default true; safe with several persisters at once). */
  migrate?: boolean;
  /** Serve the ops HTTP server (default true); `opsPort` overrides ops.port (tests use 0). */
  ops?: boolean;
  opsPort?: number;
  /**
   * Batches in flight at once (each its own blocking reader; default 2): overlaps Postgres and Redis work.
   * Cluster mode reads each shard's stream on its own reader: ceil(pipelines / shards) per shard.
   */
  pipelines?: number;
  /** Stop pulling the stream while the queue holds more waiting jobs than this (default queue.max_waiting_jobs). */
  maxWaitingJobs?: number;
  /** OpenTelemetry tracer for the per-batch `persist` / `enqueue` spans (default: none recorded). */
  tracer?: Telemetry['tracer'];
}

export interface Persister {
  /** The persister's statements; `store.queue` is the design's queue API on the same pool. */
  readonly store: PersistStore;
  /** Shard 0's queue (the only one with streams.shards 1). */
  readonly bull: Queue;
  /** Every shard's queue, by shard. */
  readonly queues: readonly Queue[];
  readonly pool: pg.Pool;
  readonly keys: FleetKeys;
  readonly metrics: PersisterMetrics;
  readonly dispatcher: Dispatcher;
  /** Base URL of the ops server (absent when disabled). */
  readonly opsUrl?: string;
  /**
   * A reader whose stream reads keep failing (latest read failed, none succeeded for
   * max(READS_FAILING_BLOCKS x streams.block_ms, READS_FAILING_MIN_MS)): /readyz then lists `stream-reads`.
   */
  readsFailing(): { streams: readonly string[]; error: string } | null;
  /** Runs one sweep now (tests, ops); returns rows re-dispatched. */
  sweepNow(): Promise<number>;
  /** Applies a reloaded config (fields marked `live`). */
  reconfigure(cfg: FleetConfig): void;
  /** Graceful: finishes the batch in hand, stops timers and servers, closes connections. */
  close(): Promise<void>;
}

/** How often rows found already inserted are checked for a missing job (see Sweeper.recoverSuspects). */
const RECOVERY_INTERVAL_MS = 500;
/**
 * How often the partition new rows go to is checked for an early ANALYZE (PersistStore.analyzeYoungPartition):
 * at 30K msg/s a second adds ~30K rows, which a plan made on the empty partition scans per statement.
 */
const YOUNG_PARTITION_CHECK_MS = 1_000;
/** A readiness check that has not answered by then counts as not ready in fleet_persister_ready. */
const READY_SAMPLE_TIMEOUT_MS = 5_000;

/**
 * Stream reads count as failing (/readyz: `stream-reads`) once a reader's latest read failed and none
 * succeeded for this many block intervals (at least READS_FAILING_MIN_MS).
 */
export const READS_FAILING_BLOCKS = 5;
export const READS_FAILING_MIN_MS = 1_000;

export async function startPersister(initial: FleetConfig, opts: PersisterOptions = {}): Promise<Persister> {
  let cfg = initial;
  const config = () => cfg;
  const log = opts.logger ?? defaultLogger(cfg.logging.level);
  const url = cfg.database.connection_string;
  if (opts.migrate !== false) {
    const applied = await migrate(url, {
      info: (m) => log.debug({ migrate: m }),
      warn: (m) => log.warn({ migrate: m }),
      error: (m) => log.error({ migrate: m }),
    });
    if (applied.length > 0) log.info({ applied }, 'migrations applied');
  }
  const pgState = new StateLog('postgres', log);
  const redisState = new StateLog('redis', log);
  const pool = createPool(url, cfg.database.pool, {
    applicationName: 'fleet-persister',
    onError: (err) => pgState.failed(errorText(err)),
  });
  const queue = new PersistStore(pool);
  const keys = new FleetKeys(cfg.redis.key_prefix, cfg.streams.shards);
  const metrics = createPersisterMetrics(cfg, opts.registry);
  const consumer = opts.consumerName ?? `${hostname()}-${process.pid}`;
  // Alongside the rest of start-up, not before it: a slow or failing check must not hold it up.
  void checkAutovacuum(queue, metrics, log);

  const onRedisError = (err: Error) => redisState.failed(errorText(err));
  const connections: FleetRedis[] = [];
  const open = (role: 'admin' | 'blocking' | 'queue') => {
    const c = createRedis(cfg.redis, role);
    c.on('error', onRedisError);
    connections.push(c);
    return c;
  };
  // Side commands (XACK, claims, trims, liveness, publishes, pressure samples).
  const redis = open('admin');
  const cluster = isCluster(redis);
  const pipelines = Math.max(1, opts.pipelines ?? 2);
  // Standalone: one loop over every shard's stream per consumer (multi-stream XREADGROUP, as before
  // clusters). Cluster: a loop per shard stream (keys of two shards live in two slots), each on its own
  // blocking connection(s).
  const loopsOf = (streams: string[], perLoop: number): ReaderLoop[] =>
    cluster
      ? streams.map((s) => ({
          streams: [s],
          readers: Array.from({ length: perLoop }, () => open('blocking')),
        }))
      : [{ streams, readers: Array.from({ length: perLoop }, () => open('blocking')) }];
  const ingestLoops = cluster
    ? loopsOf(keys.ingestStreams(), Math.ceil(pipelines / keys.shards))
    : loopsOf(keys.ingestStreams(), pipelines);
  const statusLoops = loopsOf(keys.statusStreams(), 1);
  // One BullMQ queue per shard, all on one `queue` connection (Queues only send commands on it).
  const bullConn = open('queue');
  const queues = keys.shardList().map((n) => {
    const q = new JobQueue(cfg.queue.name, { connection: bullConn, prefix: keys.bullPrefix(n) });
    q.on('error', onRedisError);
    return q;
  });
  const bull = queues[0]!;

  const dispatcher = new Dispatcher(
    queues,
    keys,
    () => dispatchLimits(cfg),
    (jobs, messages, bytes) => {
      gate.noteEnqueued(bytes);
      metrics.jobsEnqueued.inc(jobs);
      metrics.messagesEnqueued.inc(messages);
    },
  );
  const gate = new DispatchGate(redis, queues, config, log, metrics);
  const retries = new RetryScheduler(queue, dispatcher, config, metrics, log);
  const liveness = new Liveness(redis, keys, consumer, () => cfg.streams.consumer_ttl_ms, log);
  const sweeper = new Sweeper(
    queue,
    queues,
    dispatcher,
    config,
    metrics,
    log,
    redis,
    keys.statusStreams(),
    liveness,
    keys,
  );
  const ingest = new IngestConsumer({
    loops: ingestLoops,
    redis,
    queue,
    dispatcher,
    keys,
    consumer,
    config,
    log,
    metrics,
    maxWaitingJobs: opts.maxWaitingJobs ?? cfg.queue.max_waiting_jobs,
    memoryFull: () => gate.closed,
    pgState,
    redisState,
    ...(opts.tracer ? { tracer: opts.tracer } : {}),
    liveness,
    suspect: (ids) => sweeper.suspect(ids),
  });
  const status = new StatusConsumer({
    loops: statusLoops,
    redis,
    queue,
    keys,
    consumer,
    config,
    log,
    metrics,
    retries,
    pgState,
    redisState,
    liveness,
  });
  const readers = [...ingest.readers, ...status.readers];
  /** The first reader whose reads keep failing (stream and error), or null. */
  const readsFailing = (): { streams: readonly string[]; error: string } | null => {
    const threshold = Math.max(READS_FAILING_BLOCKS * cfg.streams.block_ms, READS_FAILING_MIN_MS);
    for (const r of readers) {
      const error = r.readsFailing(threshold);
      if (error !== null) return { streams: r.streams, error };
    }
    return null;
  };
  /** /readyz and fleet_persister_ready: the failing parts (empty = ready). */
  const readiness = async (): Promise<string[]> => {
    const failing: string[] = [];
    await redis.ping().catch(() => failing.push('redis'));
    if (readsFailing()) failing.push('stream-reads');
    const pgOk = await pool.query('SELECT 1').then(
      () => true,
      () => false,
    );
    if (!pgOk) failing.push('postgres');
    else if (!(await isSchemaCurrent(pool).catch(() => false))) failing.push('migrations');
    return failing;
  };
  await gate.start();
  await liveness.start();
  await ingest.start();
  await status.start();
  // fleet_persister_ready: a check that hangs (a black-holed Postgres, a pool busy with batches) counts as
  // not ready instead of leaving the last value. Sampled at start, then on its own timer.
  const sampleReady = async () => {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<string[]>((resolve) => {
      timer = setTimeout(() => resolve(['timeout']), READY_SAMPLE_TIMEOUT_MS);
    });
    const failing = await Promise.race([readiness(), timedOut]).finally(() => clearTimeout(timer));
    metrics.ready.set(failing.length === 0 ? 1 : 0);
  };
  if (cfg.monitoring.enabled) await sampleReady();

  const timers = [
    every(
      () => cfg.retry.sweep_interval_ms,
      async () => {
        await retries.run();
        await sweeper.runOnce();
      },
      (err) => log.warn({ err: errorText(err) }, 'sweep failed; next interval retries'),
    ),
    // A young partition's generic plans scan it whole (sql/log_analyze_young.sql): analyze it early.
    every(
      () => YOUNG_PARTITION_CHECK_MS,
      () => queue.analyzeYoungPartition(),
      (err) => log.debug({ err: errorText(err) }, 'young partition check failed; next interval retries'),
    ),
    every(
      () => RECOVERY_INTERVAL_MS,
      () => sweeper.recoverSuspects(),
      (err) => log.debug({ err: errorText(err) }, 'recovery pass failed; next interval retries'),
    ),
    // Apart from the backlog sample: neither a failing sample (Redis away) nor a slow check holds the other.
    every(
      () => cfg.monitoring.interval_ms,
      async () => {
        if (cfg.monitoring.enabled) await sampleReady();
      },
      (err) => log.debug({ err: errorText(err) }, 'readiness sample failed'),
    ),
    every(
      () => cfg.monitoring.interval_ms,
      async () => {
        if (!cfg.monitoring.enabled) return;
        metrics.pgPoolConnections.set(pool.totalCount);
        metrics.pgPoolIdle.set(pool.idleCount);
        metrics.pgPoolWaiting.set(pool.waitingCount);
        await sampleBacklog(redis, queues, keys, metrics);
      },
      (err) => log.debug({ err: errorText(err) }, 'backlog sample failed'),
    ),
  ];
  timers.push(
    every(
      () => cfg.retention.interval_s * 1000,
      async () => {
        const r = await queue.maintainLog({
          partitionIntervalS: cfg.retention.partition_interval_s,
          completedMaxAgeS: cfg.retention.completed_max_age_s,
          deadMaxAgeS: cfg.retention.dead_max_age_s,
          batch: 5_000,
        });
        if (r.rolled !== null)
          log.info({ partition: r.rolled }, 'message log: new rows go to a new partition');
        for (const d of r.dropped)
          log.info(
            { partition: d.partition, rows: d.rows, carried: d.carried },
            'retention dropped a partition of the message log',
          );
        if (r.deadDeleted + r.deadEntriesDeleted > 0)
          log.info(
            { dead: r.deadDeleted, dead_entries: r.deadEntriesDeleted },
            'retention deleted expired dead letters',
          );
      },
      (err) => log.warn({ err: errorText(err) }, 'retention failed; next interval retries'),
    ),
  );

  let ops: Awaited<ReturnType<typeof startOpsServer>> | null = null;
  if (opts.ops !== false) {
    ops = await startOpsServer({
      config: cfg,
      queue,
      dispatcher,
      bullQueues: queues,
      registry: metrics.registry,
      ...(opts.opsPort !== undefined ? { port: opts.opsPort } : {}),
      readiness,
    });
  }

  let closing: Promise<void> | null = null;
  return {
    store: queue,
    bull,
    queues,
    readsFailing,
    pool,
    keys,
    metrics,
    dispatcher,
    ...(ops ? { opsUrl: ops.url } : {}),
    sweepNow: async () => {
      await retries.run();
      return sweeper.runOnce();
    },
    reconfigure(next) {
      cfg = next;
      // Intervals (sweep, monitoring, retention, pressure sampling) apply to the waits already under way.
      for (const t of timers) t.reschedule();
      gate.reschedule();
      metrics.labeler.configure({
        topicLabels: next.monitoring.topic_labels,
        segments: next.monitoring.topic_label_segments,
        maxLabels: next.monitoring.max_topic_labels,
      });
    },
    close() {
      closing ??= (async () => {
        await ops?.app.close();
        await Promise.all([ingest.stop(), status.stop(), gate.stop(), ...timers.map((t) => t.stop())]);
        await liveness.stop();
        await Promise.all(queues.map((q) => q.close().catch(() => {})));
        for (const c of connections) c.disconnect();
        await pool.end().catch(() => {});
      })();
      return closing;
    },
  };
}
