import { EntryField, type FleetKeys } from '@fleet/protocol';
import { generateTraceparent } from '@fleet/tracing';
import { type GatewayRedis, XADD_BATCH_SHA } from './redis.js';
import { encodeEvalshaBatch, PrebuiltCommand } from './resp.js';

/** One message read from a socket and waiting for its XADD. */
export interface PendingAppend {
  messageId: string;
  envelope: Buffer;
  /** Gateway-assigned traceparent ('' = the envelope carries one; a number = trace flags of an id the
   *  command writer generates in place, see resp.ts). */
  traceparent: string | number;
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
  /** Script calls sent and not yet answered. */
  private outstandingCalls = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly redis: GatewayRedis,
    private readonly keys: FleetKeys,
    private readonly result: AppendResult<E>,
    private readonly maxBatch = 1_000,
    /**
     * Group commit: while this many calls are unanswered, new entries wait and join the next call, so
     * under load each call carries everything that arrived during a round trip (fewer, bigger writes),
     * and under light load (nothing outstanding) an entry goes out in the same turn.
     */
    private readonly maxOutstandingCalls = 4,
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

  readonly flush = (force = false): void => {
    this.scheduled = false;
    if (this.queued === 0) return;
    if (!force && this.outstandingCalls >= this.maxOutstandingCalls) return; // a reply will flush
    const ready = this.redis.status === 'ready';
    const at = String(Date.now());
    for (let shard = 0; shard < this.queues.length; shard++) {
      const queue = this.queues[shard]!;
      if (queue.length === 0) continue;
      this.queues[shard] = [];
      for (let start = 0; start < queue.length; start += this.maxBatch) {
        const batch =
          start === 0 && queue.length <= this.maxBatch ? queue : queue.slice(start, start + this.maxBatch);
        if (ready) this.send(this.keys.ingestStream(shard), batch, at);
        else this.result.onFailed(batch, new Error('redis not connected'));
      }
    }
    this.queued = 0;
    if (this.outstanding === 0) this.notifyIdle();
  };

  private send(key: string, batch: E[], at: string): void {
    this.outstanding += batch.length;
    this.outstandingCalls++;
    const done = (err: Error | null | undefined, ids?: unknown) => {
      this.outstanding -= batch.length;
      this.outstandingCalls--;
      if (this.queued > 0 && !this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
      if (err || !Array.isArray(ids) || ids.length !== batch.length) {
        this.result.onFailed(batch, err ?? new Error('xadd-batch returned an unexpected reply'));
      } else {
        this.result.onAppended(batch, ids as string[]);
      }
      if (this.outstanding === 0 && this.queued === 0) this.notifyIdle();
    };
    const wire = encodeEvalshaBatch(XADD_BATCH_SHA, key, [...FIELD_NAMES, at], batch);
    this.redis.sendCommand(
      new PrebuiltCommand(wire, (err, ids) => {
        // Script cache empty (Redis restarted, SCRIPT FLUSH): the named command sends EVAL and reloads it.
        if (err?.message.includes('NOSCRIPT')) this.redis.xaddBatch(key, this.args(batch, at), done);
        else done(err, ids);
      }),
    );
  }

  /** The script's arguments as an ioredis argument list (the NOSCRIPT path). */
  private args(batch: E[], at: string): Array<string | Buffer> {
    const args: Array<string | Buffer> = [...FIELD_NAMES, at];
    for (const e of batch) {
      const tp = typeof e.traceparent === 'number' ? generateTraceparent(e.traceparent) : e.traceparent;
      args.push(e.envelope, e.messageId, tp, e.replyTo, e.durable);
    }
    return args;
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
