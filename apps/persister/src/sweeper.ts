import type { FleetConfig } from '@fleet/config';
import type { Dispatcher } from '@fleet/dispatch';
import {
  compareStreamIds,
  type FleetKeys,
  type JobData,
  PERSISTER_GROUP,
  STATUS_GROUP,
} from '@fleet/protocol';
import type { FleetRedis } from '@fleet/redis';
import type { Queue } from 'bullmq';
import type { Liveness } from './liveness.js';
import type { Logger } from './log.js';
import type { PersisterMetrics } from './metrics.js';
import type { QueueApi } from './queue-api.js';
import { groupState, listConsumers } from './redis-streams.js';

/** Rows returned per sweep query; a larger backlog is taken over several passes. */
const SWEEP_PAGE = 5_000;
/** Tolerated clock difference between this host, the job's creator and Postgres. */
const CLOCK_MARGIN_MS = 2_000;
/** Most suspect rows watched at once; past it they are left to the periodic sweep (one log line). */
const MAX_SUSPECTS = 200_000;
/** How long the status barrier of a recovery pass may wait (the next pass tries again). */
const RECOVERY_STATUS_WAIT_MS = 1_000;

/**
 * Postgres is the source of truth: PENDING/PROCESSING rows untouched for retry.sweep_age_ms whose job
 * Redis no longer has (flush, failover, restart without AOF, or a crash between commit and enqueue) are
 * dispatched again. A row counts as lost only when nothing in flight can still account for it:
 * - its job is not waiting: the row is older than the oldest waiting job (jobs are FIFO; a job's creation
 *   time is when the work that committed or claimed its rows began, never after their updated_at, however
 *   long that work took: Dispatcher.dispatchNew), and older than the longest retry delay while delayed
 *   jobs exist;
 * - its job is not active: rows of active jobs are left out;
 * - its outcome is not in transit: every status event written before the sweep began has been applied
 *   (otherwise this round is skipped), so a job that finished has already moved its row.
 */
export class Sweeper {
  /** Rows a batch found already inserted (id -> first seen, ms): see recoverSuspects. */
  private readonly suspects = new Map<string, number>();
  private overflowLogged = false;

  constructor(
    private readonly queue: QueueApi,
    /** Every shard's queue. */
    private readonly queues: readonly Queue[],
    private readonly dispatcher: Dispatcher,
    private readonly config: () => FleetConfig,
    private readonly metrics: PersisterMetrics,
    private readonly log: Logger,
    private readonly redis: FleetRedis,
    /** Every shard's status stream. */
    private readonly statusStreams: readonly string[],
    private readonly liveness?: Liveness,
    private readonly keys?: FleetKeys,
  ) {}

  /** Minimum age (ms) of a row the sweep may re-dispatch right now. */
  private async staleAfterMs(): Promise<number> {
    const { retry } = this.config();
    let age = retry.sweep_age_ms;
    const oldest = await this.oldestWaitingAt();
    if (oldest !== null) age = Math.max(age, Date.now() - oldest + CLOCK_MARGIN_MS);
    const delayed = await Promise.all(this.queues.map((q) => q.getDelayedCount()));
    if (delayed.some((n) => n > 0)) age = Math.max(age, retry.backoff_max_ms + CLOCK_MARGIN_MS);
    return age;
  }

  /** Creation time of the oldest waiting job over every shard's queue (null: none waits). */
  private async oldestWaitingAt(): Promise<number | null> {
    let oldest: number | null = null;
    for (const q of this.queues) {
      const [job] = await q.getJobs(['waiting', 'prioritized'], 0, 0, true);
      if (job?.timestamp && (oldest === null || job.timestamp < oldest)) oldest = job.timestamp;
    }
    return oldest;
  }

  private async activeIds(into: Set<string>): Promise<void> {
    for (const q of this.queues)
      for (const job of await q.getActive())
        for (const m of (job?.data as JobData | undefined)?.messages ?? []) into.add(m.id);
  }

  /**
   * Waits (bounded) until every status event written so far, on every shard's status stream, has been
   * applied and acknowledged.
   */
  private async statusApplied(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (const stream of this.statusStreams) if (!(await this.streamApplied(stream, deadline))) return false;
    return true;
  }

  private async streamApplied(stream: string, deadline: number): Promise<boolean> {
    const last = (await this.redis.xrevrange(stream, '+', '-', 'COUNT', 1))[0]?.[0];
    if (!last) return true;
    for (;;) {
      const st = await groupState(this.redis, stream, STATUS_GROUP);
      if (
        st &&
        compareStreamIds(st.lastDeliveredId, last) >= 0 &&
        (st.oldestPendingId === null || compareStreamIds(st.oldestPendingId, last) > 0)
      )
        return true;
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** One pass; returns the number of rows re-dispatched. */
  async runOnce(): Promise<number> {
    let total = 0;
    for (;;) {
      const age = await this.staleAfterMs();
      const active = new Set<string>();
      await this.activeIds(active);
      if (!(await this.statusApplied(5_000))) {
        this.log.debug({}, 'sweep skipped: status events still in transit');
        break;
      }
      await this.activeIds(active);
      const since = Date.now();
      const claimed = await this.queue.sweepStale(age, SWEEP_PAGE);
      const rows = claimed.filter((r) => !active.has(r.id));
      await this.dispatcher.dispatchSwept(rows, since);
      total += rows.length;
      if (claimed.length < SWEEP_PAGE) break;
    }
    if (total > 0) {
      this.metrics.swept.inc(total);
      this.log.warn({ rows: total }, 'sweep re-dispatched rows that had no live job');
    }
    return total;
  }

  /** Rows to watch: found already in Postgres by a batch (the ingest consumer's `suspect`). */
  suspect(ids: readonly string[]): void {
    const now = Date.now();
    for (const id of ids) {
      if (this.suspects.size >= MAX_SUSPECTS) {
        if (!this.overflowLogged)
          this.log.warn(
            { max: MAX_SUSPECTS },
            'too many rows to watch: the rest wait for the periodic sweep',
          );
        this.overflowLogged = true;
        return;
      }
      if (!this.suspects.has(id)) this.suspects.set(id, now);
    }
  }

  get suspectCount(): number {
    return this.suspects.size;
  }

  /**
   * The fast path of the sweep, over the rows a batch found already inserted: rows committed by a
   * persister that died before enqueueing them (its entries were claimed and re-read), or by an attempt
   * whose commit reply was lost (Postgres stopped right after the commit). Such a row is first-attempt
   * PENDING with no job; it is re-dispatched as soon as nothing can still account for it:
   * - no live persister is about to enqueue it: it is older than every live persister's dispatch
   *   watermark (liveness keys), and every consumer holding ingest entries heartbeats (otherwise an older
   *   persister might be mid-dispatch, and the periodic sweep's age rule applies);
   * - its job is not waiting (older than the oldest waiting job), not active, and no outcome of it is in
   *   transit (status barrier), exactly as in runOnce.
   * Rows that are no longer first-attempt PENDING leave the watch; after retry.sweep_age_ms the periodic
   * sweep owns the rest. Returns the rows re-dispatched.
   */
  async recoverSuspects(): Promise<number> {
    if (this.suspects.size === 0 || !this.liveness || !this.keys) return 0;
    const { retry } = this.config();
    const now = Date.now();
    for (const [id, seen] of this.suspects) if (now - seen > retry.sweep_age_ms) this.suspects.delete(id);
    const still = new Set(await this.queue.pendingIds([...this.suspects.keys()]));
    for (const id of this.suspects.keys()) if (!still.has(id)) this.suspects.delete(id);
    if (this.suspects.size === 0) return 0;

    const peers = await this.liveness.peers();
    for (const stream of this.keys.ingestStreams())
      for (const c of await listConsumers(this.redis, stream, PERSISTER_GROUP))
        if (c.pending > 0 && !peers.alive.has(c.name) && !peers.dead.has(c.name)) return 0; // unknown or unsure
    let watermark = Date.now();
    for (const w of peers.alive.values()) watermark = Math.min(watermark, w);

    const oldest = await this.oldestWaitingAt();
    let age = Date.now() - watermark + CLOCK_MARGIN_MS;
    if (oldest !== null) age = Math.max(age, Date.now() - oldest + CLOCK_MARGIN_MS);
    // Cheap first: while every suspect is too young (e.g. queued behind a backlog), stop here.
    const old = await this.queue.pendingIds([...this.suspects.keys()], age);
    if (old.length === 0) return 0;
    const active = new Set<string>();
    await this.activeIds(active);
    if (!(await this.statusApplied(RECOVERY_STATUS_WAIT_MS))) return 0;
    await this.activeIds(active);
    const ids = old.filter((id) => !active.has(id));
    const since = Date.now();
    const rows = await this.queue.sweepIds(ids, age);
    await this.dispatcher.dispatchSwept(rows, since);
    for (const r of rows) this.suspects.delete(r.id);
    if (rows.length > 0) {
      this.metrics.swept.inc(rows.length);
      this.log.warn(
        { rows: rows.length },
        'recovered rows committed without a job (dead persister or lost commit reply)',
      );
    }
    return rows.length;
  }
}
