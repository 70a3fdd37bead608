import type { FleetConfig } from '@fleet/config';
import type { Dispatcher } from '@fleet/dispatch';
import { LogLimiter } from '@fleet/pressure';
import { ENTRY_MAX_MESSAGES, type FleetKeys, maxStreamId, PERSISTER_GROUP } from '@fleet/protocol';
import { NOOP_TRACER, startBatchSpan, type Telemetry } from '@fleet/tracing';
import type { Redis } from 'ioredis';
import { Backoff, type StateLog, sleep } from './backoff.js';
import { notifyDurable } from './durable-notifier.js';
import { claimRule, type Liveness } from './liveness.js';
import { errorText, type Logger } from './log.js';
import type { PersisterMetrics } from './metrics.js';
import { isTransientPgError } from './pg-errors.js';
import type { NewMessage, OffsetUpdate, QueueApi } from './queue-api.js';
import {
  claimAbandoned,
  ensureGroup,
  readGroup,
  removeIdleConsumers,
  trimAcknowledged,
} from './redis-streams.js';
import { decodeEntry, type RawEntry } from './stream-entry-decoder.js';

export interface IngestConsumerDeps {
  /** One dedicated connection per pipeline (XREADGROUP blocks it); readers.length batches may be in flight. */
  readers: Redis[];
  /** Shared command connection (XACK, PUBLISH, XAUTOCLAIM, XTRIM). */
  redis: Redis;
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

/** Key of an entry in the in-flight set (entry ids are per stream). */
const entryKey = (e: RawEntry) => `${e.stream} ${e.id}`;

class Stopped extends Error {}

/**
 * Longest wait between two attempts while Postgres or Redis is down: the flow resumes at most this long
 * after the dependency is back (one cheap attempt per second per loop while it is away).
 */
export const DEPENDENCY_RETRY_MAX_MS = 1_000;

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
 * Reads the ingest streams with the `persister` group and makes each batch durable:
 * decode -> persistBatch (rows + offsets, one txn) -> durable notifications -> addBulk of new rows -> XACK.
 * One batch at a time per pipeline, so memory stays bounded by about read_count messages; while
 * Postgres, Redis or the queue cannot keep up the loop waits instead of reading more, and unacknowledged
 * entries stay in the stream.
 */
export class IngestConsumer {
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];
  /** Resolves when the leader has drained this consumer's own pending entries (the others wait: same PEL). */
  private ownPendingDrained!: () => void;
  private readonly ownPendingDone = new Promise<void>((resolve) => {
    this.ownPendingDrained = resolve;
  });
  private lastClaimAt = 0;
  private lastForgetAt = 0;
  private lastTrimAt = 0;
  /** Entries of the batches in hand: a re-read of the own pending list skips them. */
  private readonly inFlight = new Set<string>();
  /** Set on any failure: the leader re-reads this consumer's pending list (a read reply lost on a broken connection, a batch given up). */
  private rereadOwn = false;
  /** A batch that keeps failing is retried about every second: one error line per interval. */
  private waitingCheckedAt = 0;
  private queueFull = false;
  private lastWaiting = 0;
  /** Jobs this process added since the last waiting count: the estimate that triggers a recount. */
  private addedSinceCheck = 0;
  private readonly streams: string[];
  /** The loop's error line (e.g. a script refused by a full Redis) at most every few seconds. */
  private readonly batchErrors = new LogLimiter();
  /** Postgres refusing a call (not an outage) in withPg's retry loop: same bound. */
  private readonly pgErrors = new LogLimiter();
  /** Messages per entry in recent reads (moving average), sizing the next read. */
  private messagesPerEntry = ENTRY_MAX_MESSAGES;
  batches = 0;

  constructor(private readonly d: IngestConsumerDeps) {
    this.streams = d.keys.ingestStreams();
  }

  async start(): Promise<void> {
    for (const s of this.streams) await ensureGroup(this.d.redis, s, PERSISTER_GROUP);
    this.lastClaimAt = Date.now();
    this.loops = this.d.readers.map((reader, i) => this.run(reader, i === 0));
  }

  /** Finishes the batch in hand (unless a dependency is down), then returns. */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  /**
   * One pipeline: read a batch, make it durable, acknowledge it, repeat. Several pipelines overlap one
   * batch's Postgres commit with another's Redis work; the first also claims, trims and first drains its
   * own pending entries (from id 0: after a restart under the same consumer name), and again after any
   * failure: an entry delivered by a read whose reply was lost, or of a batch given up, is pending on this
   * live consumer, so no peer would claim it.
   */
  private async run(reader: Redis, leader: boolean): Promise<void> {
    const redisBackoff = new Backoff(100, DEPENDENCY_RETRY_MAX_MS);
    let ownPending = leader;
    let ownCursor = this.streams.map(() => '0');
    if (!leader)
      await Promise.race([
        this.ownPendingDone,
        new Promise((r) => this.abort.signal.addEventListener('abort', r)),
      ]);
    while (!this.stopped) {
      try {
        if (leader && this.rereadOwn) {
          this.rereadOwn = false;
          ownPending = true;
          ownCursor = this.streams.map(() => '0');
        }
        if (!(await this.hasQueueRoom())) {
          await sleep(200, this.abort.signal);
          continue;
        }
        const cfg = this.d.config();
        let entries: RawEntry[];
        if (leader && Date.now() - this.lastClaimAt >= this.d.liveness.periodMs) {
          entries = await this.claimAbandoned(cfg);
        } else {
          const ids = ownPending ? ownCursor : this.streams.map(() => '>');
          entries = await readGroup(
            reader,
            PERSISTER_GROUP,
            this.d.consumer,
            this.streams,
            ids,
            entriesPerRead(cfg.streams.read_count, this.messagesPerEntry),
            ownPending ? undefined : cfg.streams.block_ms,
          );
          if (ownPending && entries.length === 0) {
            ownPending = false;
            this.ownPendingDrained();
          } else if (ownPending) {
            // Continue after what was returned; the other pipeline's batch in hand is its own business.
            ownCursor = this.streams.map((s, i) =>
              entries.reduce((m, e) => (e.stream === s ? e.id : m), ownCursor[i]!),
            );
            entries = entries.filter((e) => !this.inFlight.has(entryKey(e)));
          }
        }
        this.d.redisState.ok();
        this.d.metrics.dependencyUp.set({ dependency: 'redis' }, 1);
        redisBackoff.reset();
        if (entries.length > 0) await this.handleBatch(entries);
        if (leader) await this.maybeTrim();
      } catch (err) {
        if (err instanceof Stopped || this.stopped) break;
        this.rereadOwn = true;
        if (isRedisError(err)) {
          const wait = redisBackoff.next();
          this.d.redisState.failed(errorText(err), wait);
          this.d.metrics.dependencyUp.set({ dependency: 'redis' }, 0);
          await sleep(wait, this.abort.signal);
        } else {
          const suppressed = this.batchErrors.take();
          if (suppressed >= 0)
            this.d.log.error(
              { err: errorText(err), suppressed },
              'ingest batch failed; entries stay pending and are retried',
            );
          await sleep(redisBackoff.next(), this.abort.signal);
        }
      }
    }
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
    this.waitingCheckedAt = now;
    this.addedSinceCheck = 0;
    const waiting = await this.d.dispatcher.queue.getWaitingCount();
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

  /**
   * One claim pass per stream (every heartbeat period): takes the pending entries of dead persisters
   * (registered, liveness key expired) at once, never those of live ones however long their batch takes,
   * and those of consumers without a liveness key after claim_idle_ms; forgets long-dead consumers.
   */
  private async claimAbandoned(cfg: FleetConfig): Promise<RawEntry[]> {
    this.lastClaimAt = Date.now();
    const base = claimRule(
      await this.d.liveness.peers(),
      this.d.liveness.periodMs,
      cfg.streams.claim_idle_ms,
    );
    const rule = (name: string) => {
      const minIdle = base(name);
      if (minIdle === null)
        this.d.log.debug({ consumer: name }, 'pending entries of a live consumer left to it');
      return minIdle;
    };
    const forget = Date.now() - this.lastForgetAt >= Math.max(1_000, cfg.streams.claim_idle_ms / 2);
    if (forget) this.lastForgetAt = Date.now();
    const out: RawEntry[] = [];
    for (const s of this.streams) {
      const page = await claimAbandoned(
        this.d.redis,
        s,
        PERSISTER_GROUP,
        this.d.consumer,
        rule,
        entriesPerRead(cfg.streams.read_count, this.messagesPerEntry),
      );
      out.push(...page);
      if (forget)
        await removeIdleConsumers(
          this.d.redis,
          s,
          PERSISTER_GROUP,
          Math.max(10 * cfg.streams.claim_idle_ms, 60_000),
          this.d.consumer,
        );
    }
    if (out.length > 0)
      this.d.log.info({ entries: out.length }, 'claimed entries left pending by a dead consumer');
    return out;
  }

  private async maybeTrim(): Promise<void> {
    if (Date.now() - this.lastTrimAt < 1_000) return;
    this.lastTrimAt = Date.now();
    for (const s of this.streams) await trimAcknowledged(this.d.redis, s, [PERSISTER_GROUP]);
  }

  /** One batch, start to XACK (also for entries read before: claimed or own pending after a restart). */
  async handleBatch(entries: RawEntry[]): Promise<void> {
    // From before the commit until the jobs are added, this batch holds back the dispatch watermark.
    const token = this.d.liveness.begin();
    for (const e of entries) this.inFlight.add(entryKey(e));
    try {
      await this.persistAndDispatch(entries);
    } finally {
      this.d.liveness.end(token);
      for (const e of entries) this.inFlight.delete(entryKey(e));
    }
  }

  private async persistAndDispatch(entries: RawEntry[]): Promise<void> {
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
      await this.withPg(() => this.deadLetterEntry(b.stream, b.streamId, b.reason, b.fields));
    const tracer = this.d.tracer ?? NOOP_TRACER;
    const traceparents = tracer === NOOP_TRACER ? [] : rows.map((r) => r.traceparent);
    const persistSpan = startBatchSpan(tracer, 'persist', traceparents, { 'fleet.batch.size': rows.length });
    const persistStart = process.hrtime.bigint();
    const { inserted, invalid } = await this.persist(rows, offsets, rowStream).catch((err) => {
      endSpan(persistSpan, err);
      throw err;
    });
    const persistSeconds = Number(process.hrtime.bigint() - persistStart) / 1e9;
    persistSpan.setAttribute('fleet.batch.inserted', inserted.size);
    persistSpan.end();
    for (const id of invalid) {
      const row = rows.find((r) => r.id === id);
      if (row)
        await this.withPg(() =>
          this.deadLetterRow(row, rowStream, 'text Postgres cannot store (NUL character)'),
        );
    }

    await this.withRedis(() => notifyDurable(this.d.redis, this.d.keys, durable));
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
        : startBatchSpan(tracer, 'enqueue', tracer === NOOP_TRACER ? [] : fresh.map((r) => r.traceparent), {
            'fleet.batch.size': fresh.length,
          });
    const jobs = await this.withRedis(() => this.d.dispatcher.dispatchNew(fresh)).catch((err) => {
      if (enqueueSpan) endSpan(enqueueSpan, err);
      throw err;
    });
    enqueueSpan?.setAttribute('fleet.jobs', jobs);
    enqueueSpan?.end();
    this.addedSinceCheck += jobs;
    await this.withRedis(() => this.ack(entries));

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
    rows: NewMessage[],
    offsets: OffsetUpdate[],
    rowStream: Map<string, string>,
  ): Promise<{ inserted: Set<string>; invalid: string[] }> {
    try {
      const res = await this.withPg(() => this.d.queue.persistBatch(rows, offsets), true);
      return { inserted: new Set(res.inserted), invalid: res.invalid ?? [] };
    } catch (err) {
      if (err instanceof Stopped) throw err;
      this.d.log.warn(
        { err: errorText(err), rows: rows.length },
        'batch refused by Postgres: persisting row by row',
      );
    }
    const inserted = new Set<string>();
    const invalid: string[] = [];
    for (const row of rows) {
      try {
        const res = await this.withPg(() => this.d.queue.persistBatch([row], []), true);
        for (const id of res.inserted) inserted.add(id);
        invalid.push(...(res.invalid ?? []));
      } catch (err) {
        if (err instanceof Stopped) throw err;
        await this.withPg(() =>
          this.deadLetterRow(row, rowStream, `rejected by postgres: ${errorText(err)}`),
        );
      }
    }
    await this.withPg(() => this.d.queue.persistBatch([], offsets));
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
  private async withPg<T>(fn: () => Promise<T>, rethrowData = false): Promise<T> {
    const backoff = new Backoff(100, DEPENDENCY_RETRY_MAX_MS);
    for (;;) {
      try {
        const out = await fn();
        this.d.pgState.ok();
        this.d.metrics.dependencyUp.set({ dependency: 'postgres' }, 1);
        return out;
      } catch (err) {
        if (!isTransientPgError(err)) {
          if (rethrowData) throw err;
          const suppressed = this.pgErrors.take();
          if (suppressed >= 0)
            this.d.log.error({ err: errorText(err), suppressed }, 'postgres refused a call; retrying');
        } else {
          this.d.pgState.failed(errorText(err));
          this.d.metrics.dependencyUp.set({ dependency: 'postgres' }, 0);
        }
        if (this.stopped) throw new Stopped();
        await sleep(backoff.next(), this.abort.signal);
        if (this.stopped) throw new Stopped();
      }
    }
  }

  /** Runs a Redis call after the commit until it succeeds (the rows are durable; only delivery waits). */
  private async withRedis<T>(fn: () => Promise<T>): Promise<T> {
    const backoff = new Backoff(100, DEPENDENCY_RETRY_MAX_MS);
    for (;;) {
      try {
        const out = await fn();
        this.d.redisState.ok();
        return out;
      } catch (err) {
        this.d.redisState.failed(errorText(err));
        if (this.stopped) throw new Stopped();
        await sleep(backoff.next(), this.abort.signal);
        if (this.stopped) throw new Stopped();
      }
    }
  }

  private async ack(entries: RawEntry[]): Promise<void> {
    const byStream = new Map<string, string[]>();
    for (const e of entries) {
      const list = byStream.get(e.stream);
      if (list) list.push(e.id);
      else byStream.set(e.stream, [e.id]);
    }
    const pipe = this.d.redis.pipeline();
    for (const [stream, ids] of byStream) pipe.xack(stream, PERSISTER_GROUP, ...ids);
    const results = await pipe.exec();
    for (const [err] of results ?? []) if (err) throw err;
  }
}

/** Ends a batch span that failed (status ERROR). */
function endSpan(span: ReturnType<typeof startBatchSpan>, err: unknown): void {
  span.setStatus({ code: 2, message: errorText(err) });
  span.end();
}

/** ioredis connection-level failures (as opposed to a command's own error reply). */
export function isRedisError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return (
    err.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|LOADING|Stream isn't writeable/i.test(
      err.message,
    ) ||
    (typeof code === 'string' && code.startsWith('E'))
  );
}
