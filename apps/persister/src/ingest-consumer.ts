import type { FleetConfig } from '@fleet/config';
import type { Dispatcher } from '@fleet/dispatch';
import { Backoff, LogLimiter, RetryAborted, retry } from '@fleet/pressure';
import {
  ENTRY_MAX_MESSAGES,
  type FleetKeys,
  maxStreamId,
  PERSISTER_GROUP,
  resolveTraceparent,
} from '@fleet/protocol';
import type { FleetRedis } from '@fleet/redis';
import { NOOP_TRACER, startBatchSpan, type Telemetry } from '@fleet/tracing';
import { SpanStatusCode } from '@opentelemetry/api';
import type { StateLog } from './dependency-state.js';
import { notifyDurable } from './durable-notifier.js';
import type { Liveness } from './liveness.js';
import { errorText, type Logger } from './log.js';
import type { PersisterMetrics } from './metrics.js';
import { isTransientPgError } from './pg-errors.js';
import type { NewMessage, OffsetUpdate, QueueApi } from './queue-api.js';
import { decodeEntry, type RawEntry } from './stream-entry-decoder.js';
import { DEPENDENCY_RETRY_MAX_MS, StreamGroupReader } from './stream-group-reader.js';

/** One StreamGroupReader's streams and blocking connections. */
export interface ReaderLoop {
  streams: string[];
  readers: FleetRedis[];
}

export interface IngestConsumerDeps {
  /**
   * The reading loops: each reads `streams` (ingest streams of this fleet) with one dedicated blocking
   * connection per pipeline (`readers`; readers.length batches may be in flight per loop). Standalone: one
   * loop over every shard's stream (multi-stream XREADGROUP); cluster: one loop per shard stream.
   */
  loops: ReaderLoop[];
  /** Shared command connection (XACK, PUBLISH, XAUTOCLAIM, XTRIM). */
  redis: FleetRedis;
  queue: QueueApi;
  dispatcher: Dispatcher;
  keys: FleetKeys;
  consumer: string;
  config: () => FleetConfig;
  log: Logger;
  metrics: PersisterMetrics;
  /** Stop pulling while the BullMQ queue has more waiting jobs than this. */
  maxWaitingJobs: number;
  /** Stop pulling while Redis memory is too full for more jobs (pressure.dispatch_memory_high). */
  memoryFull?: () => boolean;
  /** Stop pulling while Postgres or Redis is failing (state shared with the status consumer). */
  pgState: StateLog;
  redisState: StateLog;
  /** OpenTelemetry: one `persist` and one `enqueue` span per batch, linked to each message's trace. */
  tracer?: Telemetry['tracer'];
  /** This persister's heartbeat: claims follow peers' liveness; batches mark the dispatch watermark. */
  liveness: Liveness;
  /**
   * Receives the ids of rows a batch found already in Postgres (not inserted by it): rows a dead persister
   * or an ambiguous commit may have left without a job (the sweeper checks them within seconds).
   */
  suspect: (ids: string[]) => void;
}

/** How far a read may exceed read_count messages when entries suddenly grow (see entriesPerRead). */
export const READ_OVERSHOOT = 10;

/**
 * Entries to ask for so that one read holds about `readCount` messages, given the messages per entry
 * seen lately (entries hold 1 to ENTRY_MAX_MESSAGES: a gateway under light load writes small ones).
 * At most READ_OVERSHOOT times the count of full entries, so a read right after entries grew holds at
 * most READ_OVERSHOOT x readCount messages.
 */
export function entriesPerRead(readCount: number, messagesPerEntry: number): number {
  const full = Math.ceil(readCount / ENTRY_MAX_MESSAGES);
  const want = Math.ceil(readCount / Math.max(1, messagesPerEntry));
  return Math.max(1, Math.min(want, full * READ_OVERSHOOT));
}

/**
 * Makes each batch the StreamGroupReader reads from the ingest streams (group `persister`) durable:
 * decode -> persistBatch (rows + offsets, one txn) -> durable notifications -> addBulk of new rows; the
 * reader then XACKs. One batch at a time per pipeline, so memory stays bounded by about read_count
 * messages; while Postgres, Redis or the queue cannot keep up the batch waits (and the gate keeps the
 * reader from reading more), and unacknowledged entries stay in the stream.
 */
export class IngestConsumer {
  /** The loops (own pending, claims, reads, trim, backoff); this class decodes and handles their batches. */
  readonly readers: StreamGroupReader[];
  /** Ingest stream -> its shard (rows read from shard n are dispatched to shard n's queue). */
  private readonly shardOfStream: Map<string, number>;
  /** Last waiting-jobs count of each shard's queue. */
  private readonly waitingByShard: number[];
  /** The waiting-jobs count under way (the loops share one). */
  private counting: Promise<boolean> | null = null;
  /** When the queue's waiting jobs were last counted (hasQueueRoom). */
  private waitingCheckedAt = 0;
  private queueFull = false;
  private lastWaiting = 0;
  /** Jobs this process added since the last waiting count: the estimate that triggers a recount. */
  private addedSinceCheck = 0;
  /** Postgres refusing a call (not an outage) in withPg's retry loop: one line every few seconds. */
  private readonly pgErrors = new LogLimiter();
  /** Messages per entry in recent reads (moving average), sizing the next read. */
  private messagesPerEntry = ENTRY_MAX_MESSAGES;
  batches = 0;

  constructor(private readonly d: IngestConsumerDeps) {
    this.shardOfStream = new Map(d.keys.ingestStreams().map((s, n) => [s, n]));
    this.waitingByShard = d.keys.shardList().map(() => 0);
    this.readers = d.loops.map((loop) => {
      const reader: StreamGroupReader = new StreamGroupReader({
        name: 'ingest',
        streams: loop.streams,
        group: PERSISTER_GROUP,
        consumer: d.consumer,
        readers: loop.readers,
        redis: d.redis,
        config: d.config,
        count: () => entriesPerRead(d.config().streams.read_count, this.messagesPerEntry),
        handle: (entries) => this.handleBatch(reader, entries),
        gate: () => this.hasQueueRoom(),
        liveness: d.liveness,
        redisState: d.redisState,
        metrics: d.metrics,
        log: d.log,
      });
      return reader;
    });
  }

  async start(): Promise<void> {
    for (const r of this.readers) await r.start();
  }

  /** Finishes the batches in hand (unless a dependency is down), then returns. */
  async stop(): Promise<void> {
    await Promise.all(this.readers.map((r) => r.stop()));
  }

  /**
   * Bounded queue: pause pulling while the queue's waiting backlog is above the bound. The count is taken
   * at most every 250 ms unless the jobs added since the last count could have crossed the bound.
   */
  private async hasQueueRoom(): Promise<boolean> {
    if (this.d.memoryFull?.()) return false;
    const now = Date.now();
    const bound = this.d.maxWaitingJobs;
    if (
      !this.queueFull &&
      now - this.waitingCheckedAt < 250 &&
      this.lastWaiting + this.addedSinceCheck <= bound
    )
      return true;
    if (this.queueFull && now - this.waitingCheckedAt < 100) return false;
    // One count at a time for every loop (cluster mode has one loop per shard).
    this.counting ??= this.countWaiting(now, bound).finally(() => {
      this.counting = null;
    });
    return this.counting;
  }

  /**
   * Counts the waiting jobs of every shard's queue; returns whether they are within the bound. A queue
   * that does not answer (its master failing over) counts with its last known count, so the other shards
   * keep flowing; only when no queue answers does the count fail (the loop backs off).
   */
  private async countWaiting(now: number, bound: number): Promise<boolean> {
    this.waitingCheckedAt = now;
    this.addedSinceCheck = 0;
    const queues = this.d.dispatcher.queues;
    let waiting: number;
    if (queues.length === 1) waiting = await queues[0]!.getWaitingCount();
    else {
      const counts = await Promise.allSettled(queues.map((q) => q.getWaitingCount()));
      if (counts.every((c) => c.status === 'rejected')) throw (counts[0] as PromiseRejectedResult).reason;
      counts.forEach((c, n) => {
        if (c.status === 'fulfilled') this.waitingByShard[n] = c.value;
      });
      waiting = this.waitingByShard.reduce((a, b) => a + b, 0);
    }
    this.lastWaiting = waiting;
    const full = waiting > bound;
    if (full !== this.queueFull)
      this.d.log.info(
        { waiting, bound },
        full
          ? 'queue backlog above bound: pausing stream reads'
          : 'queue backlog drained: resuming stream reads',
      );
    this.queueFull = full;
    return !full;
  }

  /** One batch up to its jobs (the reader XACKs it); also for entries claimed or read again from the own pending list. */
  private async handleBatch(reader: StreamGroupReader, entries: RawEntry[]): Promise<void> {
    // From before the commit until the jobs are added, this batch holds back the dispatch watermark; its
    // jobs are stamped with its start (Dispatcher.dispatchNew).
    const since = Date.now();
    const token = this.d.liveness.begin();
    try {
      await this.persistAndDispatch(reader, entries, since);
    } finally {
      this.d.liveness.end(token);
    }
  }

  private async persistAndDispatch(
    reader: StreamGroupReader,
    entries: RawEntry[],
    since: number,
  ): Promise<void> {
    const rowStream = new Map<string, string>();
    const rows: NewMessage[] = [];
    const seen = new Set<string>();
    const durable = new Map<string, string[]>();
    const bad: { stream: string; streamId: string; reason: string; fields: Record<string, string> }[] = [];
    const lastIds = new Map<string, string>();
    for (const e of entries) {
      lastIds.set(e.stream, maxStreamId(lastIds.get(e.stream), e.id));
      if (e.fields.size === 0) continue; // deleted while pending: nothing left to persist
      for (const dec of decodeEntry(e)) {
        if (!dec.ok) {
          bad.push({ stream: e.stream, streamId: dec.streamId, reason: dec.reason, fields: dec.fields });
          continue;
        }
        if (dec.durableAck) {
          const list = durable.get(dec.durableAck);
          if (list) list.push(dec.row.id);
          else durable.set(dec.durableAck, [dec.row.id]);
        }
        if (seen.has(dec.row.id)) continue;
        seen.add(dec.row.id);
        rowStream.set(dec.row.id, e.stream);
        rows.push(dec.row);
      }
    }
    if (entries.length > 0)
      this.messagesPerEntry = (this.messagesPerEntry + (rows.length + bad.length) / entries.length) / 2;
    // persistBatch only moves a stream offset forward, so claimed (older) entries cannot move it back.
    const offsets: OffsetUpdate[] = [...lastIds].map(([topic, offset]) => ({
      group: PERSISTER_GROUP,
      topic,
      offset,
    }));

    for (const b of bad)
      await this.withPg(reader, () => this.deadLetterEntry(b.stream, b.streamId, b.reason, b.fields));
    const tracer = this.d.tracer ?? NOOP_TRACER;
    const persistSpan = startBatchSpan(tracer, 'persist', tracesOf(tracer, rows), {
      'fleet.batch.size': rows.length,
    });
    const persistStart = process.hrtime.bigint();
    const { inserted, invalid } = await this.persist(reader, rows, offsets, rowStream).catch((err) => {
      endSpan(persistSpan, err);
      throw err;
    });
    const persistSeconds = Number(process.hrtime.bigint() - persistStart) / 1e9;
    persistSpan.setAttribute('fleet.batch.inserted', inserted.size);
    persistSpan.end();
    for (const id of invalid) {
      const row = rows.find((r) => r.id === id);
      if (row)
        await this.withPg(reader, () =>
          this.deadLetterRow(row, rowStream, 'text Postgres cannot store (NUL character)'),
        );
    }

    await reader.withRedis(() => notifyDurable(this.d.redis, this.d.keys, durable));
    const fresh = rows.filter((r) => inserted.has(r.id));
    // Rows already in Postgres: a client's resend, or rows committed by a dead persister (claimed entries)
    // or by an earlier attempt of this batch whose commit reply was lost. Their first dispatch may never
    // have happened; the sweeper re-dispatches those that still have no job.
    if (fresh.length + invalid.length < rows.length) {
      const invalidIds = new Set(invalid);
      this.d.suspect(rows.filter((r) => !inserted.has(r.id) && !invalidIds.has(r.id)).map((r) => r.id));
    }
    const enqueueSpan =
      fresh.length === 0
        ? undefined
        : startBatchSpan(tracer, 'enqueue', tracesOf(tracer, fresh), {
            'fleet.batch.size': fresh.length,
          });
    // Rows read from ingest shard n go to shard n's queue. A shard whose add succeeded is not added
    // again when another shard's add fails and the whole step is retried.
    const byShard = new Map<number, NewMessage[]>();
    for (const r of fresh) {
      const shard = this.shardOfStream.get(rowStream.get(r.id)!) ?? 0;
      const list = byShard.get(shard);
      if (list) list.push(r);
      else byShard.set(shard, [r]);
    }
    let jobs = 0;
    await reader
      .withRedis(async () => {
        // allSettled: no add is still under way when the step is retried.
        const results = await Promise.allSettled(
          [...byShard].map(async ([shard, list]) => {
            jobs += await this.d.dispatcher.dispatchNew(list, shard, since);
            byShard.delete(shard);
          }),
        );
        for (const r of results) if (r.status === 'rejected') throw r.reason;
      })
      .catch((err) => {
        if (enqueueSpan) endSpan(enqueueSpan, err);
        throw err;
      });
    enqueueSpan?.setAttribute('fleet.jobs', jobs);
    enqueueSpan?.end();
    this.addedSinceCheck += jobs;

    this.batches++;
    const m = this.d.metrics;
    const byTopic = new Map<string, number>();
    for (const r of fresh) {
      const label = m.labeler.label(r.topic);
      byTopic.set(label, (byTopic.get(label) ?? 0) + 1);
    }
    for (const [topic, n] of byTopic) m.messagesPersisted.inc({ topic }, n);
    m.duplicates.inc(rows.length - fresh.length);
    m.persistBatchSize.observe(rows.length);
    m.persistBatch.observe(persistSeconds);
    m.pgQuery.observe({ op: 'persist_batch' }, persistSeconds);
  }

  private async deadLetterEntry(
    stream: string,
    streamId: string,
    reason: string,
    fields: Record<string, string>,
  ): Promise<void> {
    await this.d.queue.insertDeadEntry(stream, streamId, reason, fields);
    this.d.metrics.deadEntries.inc({ reason: reason.split(':')[0]!.slice(0, 40) });
    this.d.log.warn({ stream, streamId, reason }, 'bad stream entry dead-lettered');
  }

  /**
   * persistBatch with retries: connection trouble waits with backoff (one log line per state change);
   * a batch Postgres refuses for its data is split so only the offending rows are dead-lettered.
   */
  private async persist(
    reader: StreamGroupReader,
    rows: NewMessage[],
    offsets: OffsetUpdate[],
    rowStream: Map<string, string>,
  ): Promise<{ inserted: Set<string>; invalid: string[] }> {
    try {
      const res = await this.withPg(reader, () => this.d.queue.persistBatch(rows, offsets), true);
      return { inserted: new Set(res.inserted), invalid: res.invalid ?? [] };
    } catch (err) {
      if (err instanceof RetryAborted) throw err;
      this.d.log.warn(
        { err: errorText(err), rows: rows.length },
        'batch refused by Postgres: persisting row by row',
      );
    }
    const inserted = new Set<string>();
    const invalid: string[] = [];
    for (const row of rows) {
      try {
        const res = await this.withPg(reader, () => this.d.queue.persistBatch([row], []), true);
        for (const id of res.inserted) inserted.add(id);
        invalid.push(...(res.invalid ?? []));
      } catch (err) {
        if (err instanceof RetryAborted) throw err;
        await this.withPg(reader, () =>
          this.deadLetterRow(row, rowStream, `rejected by postgres: ${errorText(err)}`),
        );
      }
    }
    await this.withPg(reader, () => this.d.queue.persistBatch([], offsets));
    return { inserted, invalid };
  }

  private async deadLetterRow(
    row: NewMessage,
    rowStream: Map<string, string>,
    reason: string,
  ): Promise<void> {
    // Keyed by message too: the messages of one batch entry share its stream id.
    const streamId = `${row.streamId}/${row.id}`;
    await this.d.queue.insertDeadEntry(rowStream.get(row.id) ?? '', streamId, reason, {
      i: row.id,
      topic: row.topic,
    });
    this.d.metrics.deadEntries.inc({ reason: 'rejected by postgres' });
    this.d.log.warn({ id: row.id, streamId, reason }, 'stream entry dead-lettered');
  }

  /** Runs a Postgres call until it succeeds; transient failures wait with backoff. `rethrowData`: data errors go to the caller. */
  private async withPg<T>(reader: StreamGroupReader, fn: () => Promise<T>, rethrowData = false): Promise<T> {
    const out = await retry(fn, {
      backoff: new Backoff(100, DEPENDENCY_RETRY_MAX_MS),
      signal: reader.signal,
      logLimiter: this.pgErrors,
      log: (err, suppressed) =>
        this.d.log.error({ err: errorText(err), suppressed }, 'postgres refused a call; retrying'),
      onError: (err) => {
        if (!isTransientPgError(err)) {
          if (rethrowData) throw err;
          return 'log';
        }
        this.d.pgState.failed(errorText(err));
        this.d.metrics.dependencyUp.set({ dependency: 'postgres' }, 0);
        return undefined;
      },
    });
    this.d.pgState.ok();
    this.d.metrics.dependencyUp.set({ dependency: 'postgres' }, 1);
    return out;
  }
}

/** Ends a batch span that failed (status ERROR). */
function endSpan(span: ReturnType<typeof startBatchSpan>, err: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: errorText(err) });
  span.end();
}

/** The traceparents a batch span links to (none without a tracer): derived marks made full. */
function tracesOf(tracer: Telemetry['tracer'], rows: readonly NewMessage[]): (string | undefined)[] {
  return tracer === NOOP_TRACER ? [] : rows.map((r) => resolveTraceparent(r.traceparent, r.id));
}
