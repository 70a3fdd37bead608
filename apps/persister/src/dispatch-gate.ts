import type { FleetConfig } from '@fleet/config';
import { PressureMonitor } from '@fleet/pressure';
import type { FleetRedis } from '@fleet/redis';
import type { Queue } from 'bullmq';
import type { Logger } from './log.js';
import type { PersisterMetrics } from './metrics.js';

/** Job states that hold a job's data in Redis until a worker finishes it. */
const LIVE_JOB_STATES = ['waiting', 'active', 'prioritized'] as const;

/**
 * Whether the persister may turn more ingest entries into jobs. A job costs more Redis memory than its
 * stream entry, so above pressure.dispatch_memory_high no new jobs are made (the rest of maxmemory is the
 * workers' drain headroom) until memory is below pressure.memory_high again. One exception keeps the
 * drain from stalling: when no job is left in Redis, waiting frees nothing (only the persister drains the
 * stream), so one read goes through; its jobs are the next thing the workers complete.
 */
export class DispatchGate {
  private readonly monitor: PressureMonitor;
  /** Enqueues so far: a job count taken before the latest enqueue is stale. */
  private enqueues = 0;
  private noJobsLeft = false;

  constructor(
    redis: FleetRedis,
    /** Every shard's queue: the drain exception needs no job left in any of them. */
    private readonly queues: readonly Queue[],
    config: () => FleetConfig,
    log: Logger,
    private readonly metrics: PersisterMetrics,
  ) {
    this.monitor = new PressureMonitor({
      // INFO memory of every master on a cluster: the fullest decides (@fleet/pressure).
      redis,
      streams: [],
      bounds: () => ({
        memoryHigh: config().pressure.dispatch_memory_high,
        memoryLow: config().pressure.memory_high,
        backlogHigh: 0,
        backlogLow: 0,
      }),
      intervalMs: () => config().pressure.interval_ms,
      log,
      what: 'stream reads (no new jobs)',
      onSample: (_s, paused) => this.onSample(paused),
    });
  }

  /** True while no new jobs should be made. */
  get closed(): boolean {
    return this.monitor.overloaded && !this.noJobsLeft;
  }

  /** Jobs holding about `bytes` of Redis memory were added (the dispatcher's callback). */
  noteEnqueued(bytes: number): void {
    this.enqueues++;
    this.noJobsLeft = false;
    this.monitor.noteWritten(bytes);
  }

  start(): Promise<void> {
    return this.monitor.start();
  }

  stop(): Promise<void> {
    return this.monitor.stop();
  }

  /** A reloaded pressure.interval_ms applies to the wait under way. */
  reschedule(): void {
    this.monitor.reschedule();
  }

  private onSample(paused: boolean): void {
    this.metrics.dispatchPaused.set(paused ? 1 : 0);
    if (!paused) {
      this.noJobsLeft = false;
      return;
    }
    const asOf = this.enqueues;
    Promise.all(this.queues.map((q) => q.getJobCounts(...LIVE_JOB_STATES)))
      .then((perQueue) => {
        if (asOf !== this.enqueues) return;
        let live = 0;
        for (const counts of perQueue) for (const state of LIVE_JOB_STATES) live += counts[state] ?? 0;
        this.noJobsLeft = live === 0;
      })
      .catch(() => {}); // the next sample asks again
  }
}
