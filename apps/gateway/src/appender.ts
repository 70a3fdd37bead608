import { EntryField, type FleetKeys } from '@fleet/protocol';
import type { GatewayRedis } from './redis.js';

/** One message read from a socket and waiting for its XADD. */
export interface PendingAppend {
  messageId: string;
  envelope: Buffer;
  /** Gateway-assigned traceparent ('' = the envelope carries one). */
  traceparent: string;
  /** Reply address for REQUESTs ('' otherwise). */
  replyTo: string;
  /** Gateway id for `durable` publishes ('' otherwise). */
  durable: string;
  /** performance.now() when the frame was read (ACK latency). */
  readAt: number;
}

export interface AppendResult<E extends PendingAppend> {
  onAppended(batch: E[], streamIds: string[]): void;
  onFailed(batch: E[], err: Error): void;
}

const FIELD_NAMES = [
  EntryField.envelope,
  EntryField.id,
  EntryField.traceparent,
  EntryField.replyTo,
  EntryField.durableAck,
  EntryField.acceptedAt,
];

/**
 * Coalesces appends across sockets: everything queued during one event-loop turn is flushed on
 * setImmediate as one xadd-batch script call per shard (split at `maxBatch` entries), all pipelined on one
 * connection, so per-chunk costs are paid once per turn, not once per socket or message.
 */
export class Appender<E extends PendingAppend> {
  private queues: E[][];
  private scheduled = false;
  /** Entries sent to Redis and not yet answered. */
  outstanding = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly redis: GatewayRedis,
    private readonly keys: FleetKeys,
    private readonly result: AppendResult<E>,
    private readonly maxBatch = 1_000,
  ) {
    this.queues = Array.from({ length: keys.shards }, () => []);
  }

  /** Entries queued for the next flush. */
  queued = 0;

  enqueue(shard: number, entry: E): void {
    this.queues[shard]!.push(entry);
    this.queued++;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  readonly flush = (): void => {
    this.scheduled = false;
    if (this.queued === 0) return;
    const ready = this.redis.status === 'ready';
    const at = String(Date.now());
    for (let shard = 0; shard < this.queues.length; shard++) {
      const queue = this.queues[shard]!;
      if (queue.length === 0) continue;
      this.queues[shard] = [];
      for (let start = 0; start < queue.length; start += this.maxBatch) {
        const batch = start === 0 && queue.length <= this.maxBatch ? queue : queue.slice(start, start + this.maxBatch);
        if (ready) this.send(this.keys.ingestStream(shard), batch, at);
        else this.result.onFailed(batch, new Error('redis not connected'));
      }
    }
    this.queued = 0;
    if (this.outstanding === 0) this.notifyIdle();
  };

  private send(key: string, batch: E[], at: string): void {
    const args: Array<string | Buffer> = new Array(7 + batch.length * 5);
    for (let i = 0; i < 6; i++) args[i] = FIELD_NAMES[i]!;
    args[6] = at;
    let j = 7;
    for (const e of batch) {
      args[j] = e.envelope;
      args[j + 1] = e.messageId;
      args[j + 2] = e.traceparent;
      args[j + 3] = e.replyTo;
      args[j + 4] = e.durable;
      j += 5;
    }
    this.outstanding += batch.length;
    this.redis.xaddBatch(key, args, (err, ids) => {
      this.outstanding -= batch.length;
      if (err || !ids || ids.length !== batch.length) {
        this.result.onFailed(batch, err ?? new Error('xadd-batch returned an unexpected reply'));
      } else {
        this.result.onAppended(batch, ids);
      }
      if (this.outstanding === 0 && this.queued === 0) this.notifyIdle();
    });
  }

  /** Resolves when nothing is queued or outstanding (graceful shutdown). */
  idle(): Promise<void> {
    if (this.outstanding === 0 && this.queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
