import { ENTRY_MAX_BYTES, ENTRY_MAX_MESSAGES, type FleetKeys } from '@fleet/protocol';
import type { FleetRedis } from '@fleet/redis';
import { encodeXaddBatch, PrebuiltCommand } from './resp.js';

/** Flushes in flight before new messages wait for a reply (group commit), by default. */
export const DEFAULT_MAX_OUTSTANDING_CALLS = 4;

/** One message read from a socket and waiting for its XADD. */
export interface PendingAppend {
  messageId: string;
  envelope: Buffer;
  /** Gateway-assigned trace reference: a traceparent or a derived mark ('' = the envelope carries one;
   *  a number = trace flags of an id the command writer generates in place, see resp.ts). */
  traceparent: string | number;
  /** Reply address for REQUESTs ('' otherwise). */
  replyTo: string;
  /** Gateway id for `durable` publishes ('' otherwise). */
  durable: string;
  /** performance.now() when the frame was read (ACK latency). */
  readAt: number;
}

export interface AppendResult<E extends PendingAppend> {
  /** `batch` is in the stream as the entry `streamId`. */
  onAppended(batch: E[], streamId: string): void;
  onFailed(batch: E[], err: Error): void;
}

/**
 * Splits a shard's queue into ingest entries of at most ENTRY_MAX_MESSAGES messages and ENTRY_MAX_BYTES
 * envelope bytes (a single larger message alone).
 */
export function entryChunks<E extends PendingAppend>(queue: E[]): E[][] {
  if (queue.length <= ENTRY_MAX_MESSAGES) {
    let bytes = 0;
    for (const e of queue) bytes += e.envelope.length;
    if (bytes <= ENTRY_MAX_BYTES) return [queue];
  }
  const chunks: E[][] = [];
  let cur: E[] = [];
  let bytes = 0;
  for (const e of queue) {
    if (cur.length > 0 && (cur.length >= ENTRY_MAX_MESSAGES || bytes + e.envelope.length > ENTRY_MAX_BYTES)) {
      chunks.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(e);
    bytes += e.envelope.length;
  }
  if (cur.length > 0) chunks.push(cur);
  return chunks;
}

/**
 * Coalesces appends across sockets: everything queued during one event-loop turn is flushed on
 * setImmediate as ingest entries (one XADD each, entryChunks), all pipelined on one connection, so
 * per-command costs are paid once per entry, not once per socket or message. On a Redis Cluster each XADD is
 * its own command, routed by its stream key's slot to that shard's master (no cross-slot pipeline).
 */
export class Appender<E extends PendingAppend> {
  private queues: E[][];
  private scheduled = false;
  /** Entries sent to Redis and not yet answered. */
  outstanding = 0;
  /** Flushes (per shard) sent and not yet fully answered. */
  private outstandingCalls = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly redis: FleetRedis,
    private readonly keys: FleetKeys,
    private readonly result: AppendResult<E>,
    /**
     * Group commit: while this many flushes are unanswered, new entries wait and join the next flush, so
     * under load each flush carries everything that arrived during a round trip (fewer, bigger entries),
     * and under light load (nothing outstanding) an entry goes out in the same turn.
     */
    private readonly maxOutstandingCalls = DEFAULT_MAX_OUTSTANDING_CALLS,
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
      if (ready) this.send(this.keys.ingestStream(shard), entryChunks(queue), at);
      else this.result.onFailed(queue, new Error('redis not connected'));
    }
    this.queued = 0;
    if (this.outstanding === 0) this.notifyIdle();
  };

  private send(key: string, chunks: E[][], at: string): void {
    this.outstandingCalls++;
    let unanswered = chunks.length;
    for (const batch of chunks) {
      this.outstanding += batch.length;
      const done = (err: Error | null | undefined, id?: unknown) => {
        this.outstanding -= batch.length;
        if (--unanswered === 0) this.outstandingCalls--;
        if (this.queued > 0 && !this.scheduled) {
          this.scheduled = true;
          setImmediate(this.flush);
        }
        if (err || typeof id !== 'string') {
          this.result.onFailed(batch, err ?? new Error('XADD returned an unexpected reply'));
        } else {
          this.result.onAppended(batch, id);
        }
        if (this.outstanding === 0 && this.queued === 0) this.notifyIdle();
      };
      this.redis.sendCommand(new PrebuiltCommand(encodeXaddBatch(key, at, batch), key, done));
    }
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
