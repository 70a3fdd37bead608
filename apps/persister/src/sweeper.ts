import type { FleetConfig } from '@fleet/config';
import { type JobData, STATUS_GROUP } from '@fleet/protocol';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Dispatcher } from './dispatcher.js';
import type { Logger } from './log.js';
import type { PersisterMetrics } from './metrics.js';
import type { QueueApi } from './queue-api.js';
import { groupState } from './redis-streams.js';
import { compareStreamIds } from './stream-ids.js';

/** Rows returned per sweep query; a larger backlog is taken over several passes. */
const SWEEP_PAGE = 5_000;
/** Tolerated clock difference between this host, the job's creator and Postgres. */
const CLOCK_MARGIN_MS = 2_000;

/**
 * Postgres is the source of truth: PENDING/PROCESSING rows untouched for retry.sweep_age_ms whose job
 * Redis no longer has (flush, failover, restart without AOF, or a crash between commit and enqueue) are
 * dispatched again. A row counts as lost only when nothing in flight can still account for it:
 * - its job is not waiting: the row is older than the oldest waiting job (jobs are FIFO), and older than
 *   the longest retry delay while delayed jobs exist;
 * - its job is not active: rows of active jobs are left out;
 * - its outcome is not in transit: every status event written before the sweep began has been applied
 *   (otherwise this round is skipped), so a job that finished has already moved its row.
 */
export class Sweeper {
  constructor(
    private readonly queue: QueueApi,
    private readonly bull: Queue,
    private readonly dispatcher: Dispatcher,
    private readonly config: () => FleetConfig,
    private readonly metrics: PersisterMetrics,
    private readonly log: Logger,
    private readonly redis: Redis,
    private readonly statusStream: string,
  ) {}

  /** Minimum age (ms) of a row the sweep may re-dispatch right now. */
  private async staleAfterMs(): Promise<number> {
    const { retry } = this.config();
    let age = retry.sweep_age_ms;
    const [oldest] = await this.bull.getJobs(['waiting', 'prioritized'], 0, 0, true);
    if (oldest?.timestamp) age = Math.max(age, Date.now() - oldest.timestamp + CLOCK_MARGIN_MS);
    if ((await this.bull.getDelayedCount()) > 0) age = Math.max(age, retry.backoff_max_ms + CLOCK_MARGIN_MS);
    return age;
  }

  private async activeIds(into: Set<string>): Promise<void> {
    for (const job of await this.bull.getActive())
      for (const m of (job?.data as JobData | undefined)?.messages ?? []) into.add(m.id);
  }

  /** Waits (bounded) until every status event written so far has been applied and acknowledged. */
  private async statusApplied(timeoutMs: number): Promise<boolean> {
    const last = (await this.redis.xrevrange(this.statusStream, '+', '-', 'COUNT', 1))[0]?.[0];
    if (!last) return true;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const st = await groupState(this.redis, this.statusStream, STATUS_GROUP);
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
      const claimed = await this.queue.sweepStale(age, SWEEP_PAGE);
      const rows = claimed.filter((r) => !active.has(r.id));
      await this.dispatcher.dispatchSwept(rows);
      total += rows.length;
      if (claimed.length < SWEEP_PAGE) break;
    }
    if (total > 0) {
      this.metrics.swept.inc(total);
      this.log.warn({ rows: total }, 'sweep re-dispatched rows that had no live job');
    }
    return total;
  }
}
