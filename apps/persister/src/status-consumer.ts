import type { FleetConfig } from '@fleet/config';
import { LogLimiter } from '@fleet/pressure';
import { DeadReason, type FleetKeys, MessageStatus, STATUS_GROUP } from '@fleet/protocol';
import type { FleetRedis } from '@fleet/redis';
import { collapseStatusUpdates, toStatusUpdates } from '@fleet/store';
import type { StateLog } from './dependency-state.js';
import type { ReaderLoop } from './ingest-consumer.js';
import type { Liveness } from './liveness.js';
import { errorText, type Logger } from './log.js';
import type { PersisterMetrics } from './metrics.js';
import { isTransientPgError } from './pg-errors.js';
import type { QueueApi, StatusUpdate } from './queue-api.js';
import type { RetryScheduler } from './retry-scheduler.js';
import type { RawEntry } from './stream-entry-decoder.js';
import { isRedisError, StreamGroupReader } from './stream-group-reader.js';

/** A status entry's fields as the strings the queue API's parser reads. */
function textFields(e: RawEntry): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of e.fields) out[k] = v.toString('utf8');
  return out;
}

/** A failure of a Postgres call (told apart from Redis trouble: both speak ECONNREFUSED). */
class PostgresFailure extends Error {
  constructor(override readonly cause: unknown) {
    super(errorText(cause));
  }
}

export interface StatusConsumerDeps {
  /**
   * The reading loops over the shards' status streams: standalone one loop over all of them, cluster one
   * per shard's status stream (each its own blocking connection).
   */
  loops: ReaderLoop[];
  redis: FleetRedis;
  queue: QueueApi;
  keys: FleetKeys;
  consumer: string;
  config: () => FleetConfig;
  log: Logger;
  metrics: PersisterMetrics;
  retries: RetryScheduler;
  pgState: StateLog;
  redisState: StateLog;
  /** Claims follow peers' liveness (see Liveness). */
  liveness: Liveness;
}

/**
 * Applies worker outcomes from the status stream to `messages` in batches (group `persister-status`, read
 * by a StreamGroupReader), then hands FAILED rows to the retry scheduler; the reader XACKs after. Nothing is
 * acknowledged before Postgres took it. A batch that fails stays pending and is read again at once from
 * this consumer's own pending list (before, it waited for claim_idle_ms: statuses applied ~45 s after a
 * Postgres restart).
 */
export class StatusConsumer {
  readonly readers: StreamGroupReader[];
  /** Postgres errors of the loop at most every few seconds (a refused batch fails every turn). */
  private readonly errors = new LogLimiter();

  constructor(private readonly d: StatusConsumerDeps) {
    this.readers = d.loops.map(
      (loop) =>
        new StreamGroupReader({
          name: 'status',
          streams: loop.streams,
          group: STATUS_GROUP,
          consumer: d.consumer,
          readers: loop.readers,
          redis: d.redis,
          config: d.config,
          count: () => d.config().streams.read_count,
          handle: (entries) => this.handle(entries),
          failed: (err, wait) => this.failed(err, wait),
          liveness: d.liveness,
          redisState: d.redisState,
          metrics: d.metrics,
          log: d.log,
        }),
    );
  }

  async start(): Promise<void> {
    for (const r of this.readers) await r.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.readers.map((r) => r.stop()));
  }

  /** Postgres failures are this consumer's to report (both Postgres and Redis speak ECONNREFUSED). */
  private failed(err: unknown, wait: number): boolean {
    if (!(err instanceof PostgresFailure)) return false;
    if (isTransientPgError(err.cause)) {
      this.d.pgState.failed(errorText(err.cause), wait);
      return true;
    }
    const suppressed = this.errors.take();
    if (suppressed >= 0)
      this.d.log.error(
        { err: errorText(err.cause), suppressed },
        'status batch refused by Postgres; entries stay pending and are retried',
      );
    return true;
  }

  private async handle(entries: RawEntry[]): Promise<void> {
    const updates: StatusUpdate[] = [];
    for (const e of entries) {
      const u = toStatusUpdates(textFields(e));
      if (u) for (const one of u) updates.push(one);
      else if (e.fields.size > 0) this.d.log.warn({ streamId: e.id }, 'malformed status entry skipped');
    }
    const collapsed = collapseStatusUpdates(updates);
    if (collapsed.length > 0) {
      const t0 = performance.now();
      await this.d.queue.applyStatuses(collapsed).catch((err: unknown) => {
        throw new PostgresFailure(err);
      });
      this.d.metrics.pgQuery.observe({ op: 'apply_statuses' }, (performance.now() - t0) / 1000);
      this.d.pgState.ok();
    }
    let failed = false;
    for (const u of collapsed) {
      this.d.metrics.statusUpdates.inc({ status: u.status });
      if (u.status === MessageStatus.FAILED) failed = true;
      // DEAD from a worker (`unrouted`, `expired`, undecodable) is final: counted by reason, never retried.
      if (u.status === MessageStatus.DEAD)
        this.d.metrics.deadLetters.inc({
          reason: u.error === DeadReason.unrouted || u.error === DeadReason.expired ? u.error : 'worker',
        });
    }
    if (failed)
      await this.d.retries.run().catch((err: unknown) => {
        // Not acknowledged: the batch is applied again (idempotent) and the retry pass reruns.
        if (isRedisError(err)) throw err;
        throw new PostgresFailure(err);
      });
  }
}
