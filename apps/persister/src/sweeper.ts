import type { FleetConfig } from '@fleet/config';
import type { Queue } from 'bullmq';
import type { Dispatcher } from './dispatcher.js';
import type { Logger } from './log.js';
import type { PersisterMetrics } from './metrics.js';
import type { QueueApi } from './queue-api.js';

/** Rows returned per sweep query; a larger backlog is taken over several passes. */
const SWEEP_PAGE = 5_000;
/** Tolerated clock difference between this host, the job's creator and Postgres. */
const CLOCK_MARGIN_MS = 2_000;

/**
 * Postgres is the source of truth: PENDING/PROCESSING rows untouched for retry.sweep_age_ms whose job
 * Redis no longer has (flush, failover, restart without AOF, or a crash between commit and enqueue) are
 * dispatched again. A row is only considered lost when it is also older than the oldest waiting job
 * (FIFO: its own job would be waiting ahead of that one) and than the longest retry delay while delayed
 * jobs exist, so a deep backlog does not make the sweep duplicate work that is merely queued.
 */
export class Sweeper {
  constructor(
    private readonly queue: QueueApi,
    private readonly bull: Queue,
    private readonly dispatcher: Dispatcher,
    private readonly config: () => FleetConfig,
    private readonly metrics: PersisterMetrics,
    private readonly log: Logger,
  ) {}

  /** Minimum age (ms) of a row the sweep may re-dispatch right now. */
  async staleAfterMs(): Promise<number> {
    const { retry } = this.config();
    let age = retry.sweep_age_ms;
    const [oldest] = await this.bull.getJobs(['waiting'], 0, 0, true);
    if (oldest?.timestamp) age = Math.max(age, Date.now() - oldest.timestamp + CLOCK_MARGIN_MS);
    if ((await this.bull.getDelayedCount()) > 0) age = Math.max(age, retry.backoff_max_ms + CLOCK_MARGIN_MS);
    return age;
  }

  /** One pass; returns the number of rows re-dispatched. */
  async runOnce(): Promise<number> {
    let total = 0;
    for (;;) {
      const rows = await this.queue.sweepStale(await this.staleAfterMs(), SWEEP_PAGE);
      if (rows.length === 0) break;
      await this.dispatcher.dispatchSwept(rows);
      total += rows.length;
      if (rows.length < SWEEP_PAGE) break;
    }
    if (total > 0) {
      this.metrics.swept.inc(total);
      this.log.warn({ rows: total }, 'sweep re-dispatched rows that had no live job');
    }
    return total;
  }
}
