import type { FleetConfig } from '@fleet/config';
import type { Dispatcher } from '@fleet/dispatch';
import type { Logger } from './log.js';
import type { PersisterMetrics } from './metrics.js';
import type { QueueApi } from './queue-api.js';

/**
 * reprocess_failed + dispatch: FAILED rows under retry.max_retries go back to PENDING with retry_count + 1
 * and get a delayed job (backoff_ms doubling, capped); the rest become DEAD. The UPDATE hands each row to
 * exactly one caller, so several persisters may run this at once. A crash between the UPDATE and the add
 * leaves PENDING rows without a job: the sweep re-dispatches them.
 */
export class RetryScheduler {
  private running: Promise<void> | null = null;

  constructor(
    private readonly queue: QueueApi,
    private readonly dispatcher: Dispatcher,
    private readonly config: () => FleetConfig,
    private readonly metrics: PersisterMetrics,
    private readonly log: Logger,
  ) {}

  /** Runs once; a call while a run is in progress joins it. */
  run(): Promise<void> {
    this.running ??= this.once().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async once(): Promise<void> {
    const { retry } = this.config();
    const { requeued, dead } = await this.queue.reprocessFailed(retry.max_retries);
    if (requeued.length > 0) {
      await this.dispatcher.dispatchRetries(requeued, {
        backoffMs: retry.backoff_ms,
        backoffMaxMs: retry.backoff_max_ms,
      });
      this.metrics.retries.inc(requeued.length);
    }
    if (dead.length > 0) {
      this.metrics.deadLetters.inc({ reason: 'max_retries' }, dead.length);
      this.log.warn(
        { count: dead.length, maxRetries: retry.max_retries },
        'messages dead-lettered after the retry limit',
      );
    }
  }
}
