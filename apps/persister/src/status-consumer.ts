import type { FleetConfig } from '@fleet/config';
import { LogLimiter } from '@fleet/pressure';
import { DeadReason, type FleetKeys, MessageStatus, STATUS_GROUP } from '@fleet/protocol';
import { collapseStatusUpdates, toStatusUpdates } from '@fleet/store';
import type { Redis } from 'ioredis';
import { Backoff, type StateLog, sleep } from './backoff.js';
import { DEPENDENCY_RETRY_MAX_MS, isRedisError } from './ingest-consumer.js';
import { claimRule, type Liveness } from './liveness.js';
import { errorText, type Logger } from './log.js';
import type { PersisterMetrics } from './metrics.js';
import { isTransientPgError } from './pg-errors.js';
import type { QueueApi, StatusUpdate } from './queue-api.js';
import { claimAbandoned, ensureGroup, readGroup, trimAcknowledged } from './redis-streams.js';
import type { RetryScheduler } from './retry-scheduler.js';
import type { RawEntry } from './stream-entry-decoder.js';

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
  reader: Redis;
  redis: Redis;
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
 * Applies worker outcomes from the status stream to `messages` in batches (group `persister-status`),
 * then hands FAILED rows to the retry scheduler, then XACKs. Nothing is acknowledged before Postgres took it.
 */
export class StatusConsumer {
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  private lastTrimAt = 0;
  private lastClaimAt = 0;
  private readonly stream: string;
  /** Error lines of the loop at most every few seconds (a Redis refusing writes fails every turn). */
  private readonly errors = new LogLimiter();

  constructor(private readonly d: StatusConsumerDeps) {
    this.stream = d.keys.statusStream();
  }

  async start(): Promise<void> {
    await ensureGroup(this.d.redis, this.stream, STATUS_GROUP);
    this.lastClaimAt = Date.now();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  /**
   * Reads own pending entries first (a restart under the same name) and again after any failure: the
   * batch that failed stays pending on this live consumer, which no peer claims, so it is retried here at
   * once (before, it waited for claim_idle_ms: statuses applied ~45 s after a Postgres restart).
   */
  private async run(): Promise<void> {
    const backoff = new Backoff(100, DEPENDENCY_RETRY_MAX_MS);
    let ownPending = true;
    while (!this.abort.signal.aborted) {
      try {
        const cfg = this.d.config();
        let entries: RawEntry[];
        if (Date.now() - this.lastClaimAt >= this.d.liveness.periodMs) {
          this.lastClaimAt = Date.now();
          const rule = claimRule(
            await this.d.liveness.peers(),
            this.d.liveness.periodMs,
            cfg.streams.claim_idle_ms,
          );
          entries = await claimAbandoned(
            this.d.redis,
            this.stream,
            STATUS_GROUP,
            this.d.consumer,
            rule,
            cfg.streams.read_count,
          );
        } else {
          entries = await readGroup(
            this.d.reader,
            STATUS_GROUP,
            this.d.consumer,
            [this.stream],
            [ownPending ? '0' : '>'],
            cfg.streams.read_count,
            ownPending ? undefined : cfg.streams.block_ms,
          );
          if (ownPending && entries.length === 0) ownPending = false;
        }
        if (entries.length > 0) await this.handle(entries);
        if (Date.now() - this.lastTrimAt >= 1_000) {
          this.lastTrimAt = Date.now();
          await trimAcknowledged(this.d.redis, this.stream, [STATUS_GROUP]);
        }
        backoff.reset();
      } catch (err) {
        if (this.abort.signal.aborted) break;
        ownPending = true;
        const wait = backoff.next();
        if (err instanceof PostgresFailure && isTransientPgError(err.cause))
          this.d.pgState.failed(errorText(err.cause), wait);
        else if (!(err instanceof PostgresFailure) && isRedisError(err))
          this.d.redisState.failed(errorText(err), wait);
        else {
          const suppressed = this.errors.take();
          if (suppressed >= 0)
            this.d.log.error(
              { err: errorText(err instanceof PostgresFailure ? err.cause : err), suppressed },
              err instanceof PostgresFailure
                ? 'status batch refused by Postgres; entries stay pending and are retried'
                : 'status batch failed; entries stay pending and are retried',
            );
        }
        await sleep(wait, this.abort.signal);
      }
    }
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
    await this.d.redis.xack(this.stream, STATUS_GROUP, ...entries.map((e) => e.id));
    this.d.redisState.ok();
  }
}
