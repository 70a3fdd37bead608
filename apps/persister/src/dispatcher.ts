import type { Queue } from 'bullmq';
import { batchJobId, buildJobs, type JobSpec, retryDelayMs } from './jobs.js';
import type { NewMessage, StoredMessage } from './queue-api.js';

export interface DispatchLimits {
  batchSize: number;
  maxJobBytes: number;
}

/**
 * Turns `messages` rows into BullMQ jobs with deterministic ids, for each reason a row is dispatched:
 * first delivery after the stream commit, a retry, a sweep of rows Redis lost, and replays.
 */
export class Dispatcher {
  constructor(
    readonly queue: Queue,
    private readonly limits: () => DispatchLimits,
    private readonly onEnqueued: (jobs: number, messages: number) => void = () => {},
  ) {}

  /** First delivery of rows this persister inserted (only the inserting transaction's owner dispatches). */
  dispatchNew(rows: readonly NewMessage[]): Promise<number> {
    return this.add(
      buildJobs(
        rows,
        () => 0,
        this.limits(),
        (c) => batchJobId('i', c),
      ),
    );
  }

  /** Retries: delayed by the retry's backoff; the job id carries the retry count (`r-<hash>-<n>`). */
  async dispatchRetries(
    rows: readonly StoredMessage[],
    backoff: { backoffMs: number; backoffMaxMs: number },
  ): Promise<number> {
    const jobs: JobSpec[] = [];
    for (const [n, list] of groupByRetry(rows)) {
      const delay = retryDelayMs(n, backoff.backoffMs, backoff.backoffMaxMs);
      jobs.push(
        ...buildJobs(
          list,
          () => n,
          this.limits(),
          (c) => batchJobId('r', c, n),
          delay,
        ),
      );
    }
    return this.add(jobs);
  }

  /**
   * Rows found PENDING/PROCESSING with no live job (Redis lost it, or a crash before the enqueue), batched
   * per retry count. The sweep only picks rows older than the oldest waiting job, so a repeated sweep does
   * not duplicate a job still queued (and an identical batch re-added while its job exists is a no-op).
   */
  dispatchSwept(rows: readonly StoredMessage[]): Promise<number> {
    const jobs: JobSpec[] = [];
    for (const [n, list] of groupByRetry(rows))
      jobs.push(
        ...buildJobs(
          list,
          () => n,
          this.limits(),
          (c) => batchJobId('s', c, n),
        ),
      );
    return this.add(jobs);
  }

  /** Operator replays (durable log range or dead letters): `tag` makes each replay request distinct. */
  dispatchReplay(kind: 'p' | 'd', rows: readonly StoredMessage[], tag: string): Promise<number> {
    return this.add(
      buildJobs(
        rows,
        (m) => (m as StoredMessage).retryCount ?? 0,
        this.limits(),
        (c) => batchJobId(kind, c, tag),
      ),
    );
  }

  private async add(jobs: JobSpec[]): Promise<number> {
    if (jobs.length === 0) return 0;
    let messages = 0;
    for (const j of jobs) messages += j.data.messages.length;
    // addBulk runs as one MULTI: either every job of the list is added or none (then the caller retries).
    for (let i = 0; i < jobs.length; i += 500) await this.queue.addBulk(jobs.slice(i, i + 500));
    this.onEnqueued(jobs.length, messages);
    return jobs.length;
  }
}

function groupByRetry(rows: readonly StoredMessage[]): Map<number, StoredMessage[]> {
  const byCount = new Map<number, StoredMessage[]>();
  for (const r of rows) {
    const list = byCount.get(r.retryCount);
    if (list) list.push(r);
    else byCount.set(r.retryCount, [r]);
  }
  return byCount;
}
