import type { FleetConfig } from '@fleet/config';
import type { FleetKeys } from '@fleet/protocol';
import type { NewMessage, StoredMessage } from '@fleet/store';
import type { Queue } from 'bullmq';
import {
  batchJobId,
  buildJobs,
  JOB_OVERHEAD_BYTES,
  type JobSpec,
  jobMessageBytes,
  type KeepFinished,
} from './jobs.js';

/** Retry delay of the n-th retry (n >= 1): backoff_ms doubling, capped at backoff_max_ms. */
export function retryDelayMs(retryCount: number, backoffMs: number, backoffMaxMs: number): number {
  const n = Math.max(1, retryCount);
  return Math.min(backoffMaxMs, backoffMs * 2 ** Math.min(n - 1, 30));
}

export interface DispatchLimits {
  batchSize: number;
  maxJobBytes: number;
  /** Finished jobs kept for Bull Board (queue.keep_completed / keep_failed); absent = removed at once. */
  keepCompleted?: KeepFinished;
  keepFailed?: KeepFinished;
}

/** The dispatch limits of a config (read per dispatch: queue.batch_size, max_job_bytes and keep_* are live). */
export function dispatchLimits(cfg: FleetConfig): DispatchLimits {
  const { queue } = cfg;
  return {
    batchSize: queue.batch_size,
    maxJobBytes: queue.max_job_bytes,
    keepCompleted: { count: queue.keep_completed.count, ageS: queue.keep_completed.age_s },
    keepFailed: { count: queue.keep_failed.count, ageS: queue.keep_failed.age_s },
  };
}

/** Jobs made by the same BullMQ-queue add: per shard (one queue each). */
type JobsByShard = Map<number, JobSpec[]>;

/**
 * Turns `messages` rows into BullMQ jobs with deterministic ids, for each reason a row is dispatched:
 * first delivery after the stream commit, a retry, a sweep of rows Redis lost, and replays.
 *
 * One BullMQ queue per shard (`queues[n]` has prefix keys.bullPrefix(n)): rows read from ingest shard n go
 * to queue n (dispatchNew); rows re-dispatched from Postgres (retries, sweeps, replays) go to the queue of
 * keys.shardOf(row.topic), since Postgres does not keep the partition key. Each queue's addBulk is one
 * MULTI in one Cluster slot; no add spans two shards.
 */
export class Dispatcher {
  constructor(
    /** Queue of each shard, indexed by shard (length = keys.shards). */
    readonly queues: readonly Queue[],
    private readonly keys: FleetKeys,
    private readonly limits: () => DispatchLimits,
    /** After each add: jobs, messages and an estimate of the Redis bytes they hold (memory gate). */
    private readonly onEnqueued: (jobs: number, messages: number, bytes: number) => void = () => {},
  ) {
    if (queues.length !== keys.shards)
      throw new Error(`Dispatcher: ${queues.length} queues for ${keys.shards} shards`);
  }

  /** Shard 0's queue (the only one with streams.shards 1). */
  get queue(): Queue {
    return this.queues[0]!;
  }

  /** Waiting jobs over every shard's queue. */
  async waitingCount(): Promise<number> {
    if (this.queues.length === 1) return this.queues[0]!.getWaitingCount();
    const counts = await Promise.all(this.queues.map((q) => q.getWaitingCount()));
    return counts.reduce((a, b) => a + b, 0);
  }

  /**
   * First delivery of rows this persister inserted (only the inserting transaction's owner dispatches),
   * all read from ingest shard `shard`: into that shard's queue.
   *
   * `since`: when the batch began (before its statement). It is the jobs' creation time, so a waiting job
   * is never younger than its rows (updated_at is the statement's start): the sweeper takes rows older
   * than the oldest waiting job for lost ones, and a batch that took longer than its clock margin between
   * statement and add (a loaded box, a slow commit) would otherwise have its rows dispatched twice.
   */
  dispatchNew(rows: readonly NewMessage[], shard: number, since?: number): Promise<number> {
    this.checkShard(shard);
    return this.add(
      new Map([
        [
          shard,
          buildJobs(
            rows,
            () => 0,
            this.limits(),
            (c) => batchJobId('i', c),
            undefined,
            since,
          ),
        ],
      ]),
    );
  }

  /** Retries: delayed by the retry's backoff; the job id carries the retry count (`r-<hash>-<n>`). */
  async dispatchRetries(
    rows: readonly StoredMessage[],
    backoff: { backoffMs: number; backoffMaxMs: number },
  ): Promise<number> {
    return this.add(
      this.byShardAndRetry(rows, 'r', (n) => retryDelayMs(n, backoff.backoffMs, backoff.backoffMaxMs)),
    );
  }

  /**
   * Rows found PENDING/PROCESSING with no live job (Redis lost it, or a crash before the enqueue), batched
   * per retry count. The sweep only picks rows older than the oldest waiting job, so a repeated sweep does
   * not duplicate a job still queued (and an identical batch re-added while its job exists is a no-op).
   * Ids `s-<hash>-<n>.<claim>`: the claim time (the rows' updated_at, set by the sweep's claim) makes each
   * sweep of the same rows a new job, so a finished job kept from an earlier sweep (queue.keep_*) cannot
   * turn a later one into a no-op. `since`: when the claim began (before its statement touched
   * updated_at), the jobs' creation time (as in dispatchNew).
   */
  dispatchSwept(rows: readonly StoredMessage[], since?: number): Promise<number> {
    return this.add(this.byShardAndRetry(rows, 's', undefined, claimTag, since));
  }

  /** Jobs of `rows` per topic shard and retry count; ids `<kind>-<hash>-<n>`, delayed by `delay(n)` if given. */
  private byShardAndRetry(
    rows: readonly StoredMessage[],
    kind: 'r' | 's',
    delay?: (retryCount: number) => number,
    /** Appended to the retry count in the id (`<n>.<tag>`), from the rows of the job's group. */
    tag?: (rows: readonly StoredMessage[]) => string,
    since?: number,
  ): JobsByShard {
    const jobs: JobsByShard = new Map();
    for (const [shard, ofShard] of this.byTopicShard(rows))
      for (const [n, list] of groupByRetry(ofShard))
        push(
          jobs,
          shard,
          buildJobs(
            list,
            () => n,
            this.limits(),
            (c) => batchJobId(kind, c, tag ? `${n}.${tag(list)}` : n),
            delay?.(n),
            since,
          ),
        );
    return jobs;
  }

  /** Operator replays (durable log range or dead letters): `tag` makes each replay request distinct. */
  dispatchReplay(kind: 'p' | 'd', rows: readonly StoredMessage[], tag: string): Promise<number> {
    const jobs: JobsByShard = new Map();
    for (const [shard, ofShard] of this.byTopicShard(rows))
      push(
        jobs,
        shard,
        buildJobs(
          ofShard,
          (m) => (m as StoredMessage).retryCount ?? 0,
          this.limits(),
          (c) => batchJobId(kind, c, tag),
        ),
      );
    return this.add(jobs);
  }

  private checkShard(shard: number): void {
    if (!Number.isInteger(shard) || shard < 0 || shard >= this.queues.length)
      throw new Error(`Dispatcher: no shard ${shard} (shards: ${this.queues.length})`);
  }

  /** Rows grouped by the shard of their topic, in their order. */
  private byTopicShard(rows: readonly StoredMessage[]): Map<number, StoredMessage[]> {
    if (this.queues.length === 1) return new Map(rows.length > 0 ? [[0, [...rows]]] : []);
    const out = new Map<number, StoredMessage[]>();
    for (const r of rows) {
      const s = this.keys.shardOf(r.topic);
      const list = out.get(s);
      if (list) list.push(r);
      else out.set(s, [r]);
    }
    return out;
  }

  private async add(byShard: JobsByShard): Promise<number> {
    let jobs = 0;
    let messages = 0;
    let bytes = 0;
    for (const list of byShard.values()) {
      jobs += list.length;
      for (const j of list) {
        messages += j.data.messages.length;
        bytes += JOB_OVERHEAD_BYTES;
        for (const m of j.data.messages) bytes += jobMessageBytes(m);
      }
    }
    if (jobs === 0) return 0;
    // addBulk runs as one MULTI in the queue's slot: either every job of the list is added or none (then
    // the caller retries; a job re-added while it exists is a no-op). The shards' queues are added to at
    // once (one round trip on a standalone server; their own masters on a cluster).
    await Promise.all(
      [...byShard].map(async ([shard, list]) => {
        const q = this.queues[shard]!;
        for (let i = 0; i < list.length; i += 500) await q.addBulk(list.slice(i, i + 500));
      }),
    );
    this.onEnqueued(jobs, messages, bytes);
    return jobs;
  }
}

function push(into: JobsByShard, shard: number, jobs: JobSpec[]): void {
  const list = into.get(shard);
  if (list) list.push(...jobs);
  else into.set(shard, jobs);
}

/** The latest updated_at of the rows (ms, base 36): a sweep's claim time. */
function claimTag(rows: readonly StoredMessage[]): string {
  let at = 0;
  for (const r of rows) at = Math.max(at, r.updatedAt.getTime());
  return at.toString(36);
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
