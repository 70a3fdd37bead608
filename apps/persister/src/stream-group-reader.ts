import type { FleetConfig } from '@fleet/config';
import { Backoff, LogLimiter, RetryAborted, retry, sleep } from '@fleet/pressure';
import type { FleetRedis } from '@fleet/redis';
import type { StateLog } from './dependency-state.js';
import { claimRule, type Liveness, removalRule } from './liveness.js';
import { errorText, type Logger } from './log.js';
import type { PersisterMetrics } from './metrics.js';
import {
  claimAbandoned,
  claimFrom,
  ensureGroup,
  readGroup,
  removeConsumers,
  trimAcknowledged,
} from './redis-streams.js';
import type { RawEntry } from './stream-entry-decoder.js';

/**
 * Longest wait between two attempts while Postgres or Redis is down: the flow resumes at most this long
 * after the dependency is back (one cheap attempt per second per loop while it is away).
 */
export const DEPENDENCY_RETRY_MAX_MS = 1_000;

/** Pause between two looks at a closed gate (queue backlog or Redis memory). */
const GATE_RECHECK_MS = 200;
/** How often the leader trims what the group acknowledged. */
const TRIM_EVERY_MS = 1_000;
/**
 * An entry pending on this live consumer, not in hand and idle this long, is stranded: delivered by a
 * read whose reply never reached this process without the read failing here (seen in the e2e crash test
 * right after a redis-server restart: 4 entries, 400 ACKed messages, left pending on a live persister for
 * good, since peers never claim a live consumer's entries). The leader's claim pass takes them back.
 * Idle, not age: an entry whose read reply is still on its way is idle ~0 and is left to its reader.
 */
const STRANDED_IDLE_MS = 5_000;

export interface StreamGroupReaderOptions {
  /** What the log lines call this reader ("ingest", "status"). */
  name: string;
  /**
   * The streams this reader's XREADGROUP names (all ingest shards, or the status stream). One call may
   * name several keys only while they live on one Redis node: under Redis Cluster run one reader per
   * shard stream (`streams: [shard]`) so each call names a single key.
   */
  streams: string[];
  group: string;
  consumer: string;
  /** One blocking connection per pipeline; readers.length batches may be in hand at once. */
  readers: FleetRedis[];
  /** Command connection: claims, XACK, XTRIM, consumer removal. */
  redis: FleetRedis;
  config: () => FleetConfig;
  /** Entries to ask for per read or claim. */
  count: () => number;
  /**
   * Decodes and handles one batch; returning means done: the reader then XACKs every entry of it
   * (retrying Redis until it takes the XACK). Throwing leaves the batch pending; it is read again from
   * this consumer's own pending list.
   */
  handle: (entries: RawEntry[]) => Promise<void>;
  /** Checked before each read: false pauses reading (queue backlog, Redis memory). */
  gate?: () => boolean | Promise<boolean>;
  /**
   * A failed turn, before the wait: return true when it was accounted for (e.g. Postgres' state log);
   * otherwise Redis connection errors go to the Redis state log and the rest to a rate-limited error line.
   */
  failed?: (err: unknown, waitMs: number) => boolean;
  liveness: Liveness;
  redisState: StateLog;
  metrics: PersisterMetrics;
  log: Logger;
}

/** Key of an entry in the in-flight set (entry ids are per stream). */
const entryKey = (e: RawEntry) => `${e.stream} ${e.id}`;

/**
 * The consumer-group loop of the persister's stream consumers (ingest and status): one blocking reader per
 * pipeline reads a batch, hands it to `handle`, XACKs it, repeats. The first pipeline (the leader) also,
 * every liveness period, claims the pending entries of dead consumers and removes those left with
 * nothing pending, trims what the group acknowledged, and first drains this consumer's own pending entries
 * (from id 0: after a restart under the same name), again after any failure: an entry delivered by a read
 * whose reply was lost, or of a batch given up, stays pending on this live consumer, so no peer claims it.
 * While a gate is closed or a dependency is down it waits instead of reading more (backoff up to
 * DEPENDENCY_RETRY_MAX_MS); unacknowledged entries stay in the stream.
 */
export class StreamGroupReader {
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];
  /** Resolves when the leader has drained the own pending entries (the others wait: same PEL). */
  private ownPendingDrained!: () => void;
  private readonly ownPendingDone = new Promise<void>((resolve) => {
    this.ownPendingDrained = resolve;
  });
  private lastClaimAt = 0;
  private lastRemoveAt = 0;
  private lastTrimAt = 0;
  /** Entries of the batches in hand: a re-read of the own pending list skips them. */
  private readonly inFlight = new Set<string>();
  /** Set on any failure: the leader re-reads the own pending list. */
  private rereadOwn = false;
  private readonly errors = new LogLimiter();
  /** Per pipeline: when its last read (or claim pass) succeeded, and when one last failed (0: never). */
  private readOkAt: number[] = [];
  private readFailedAt: number[] = [];
  /** Per pipeline: paused by the gate (not reading, so not failing). */
  private gated: boolean[] = [];
  private lastReadError = '';

  constructor(private readonly o: StreamGroupReaderOptions) {}

  /** The streams this reader reads. */
  get streams(): readonly string[] {
    return this.o.streams;
  }

  /**
   * Whether reads keep failing: on some pipeline the latest read (or claim pass) failed and none has
   * succeeded for `thresholdMs`. A pipeline that is not reading (gate closed, waiting for the leader) is
   * not failing; the first successful read clears it. Returns the latest error then, else null.
   */
  readsFailing(thresholdMs: number, now = Date.now()): string | null {
    for (let i = 0; i < this.readOkAt.length; i++) {
      if (this.gated[i]) continue;
      const ok = this.readOkAt[i]!;
      if (this.readFailedAt[i]! > ok && now - ok > thresholdMs) return this.lastReadError || 'read failed';
    }
    return null;
  }

  /** The reader's abort signal: aborted by stop() (the handler's own retries end with it). */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  async start(): Promise<void> {
    for (const s of this.o.streams) await ensureGroup(this.o.redis, s, this.o.group);
    this.lastClaimAt = Date.now();
    this.readOkAt = this.o.readers.map(() => Date.now());
    this.readFailedAt = this.o.readers.map(() => 0);
    this.gated = this.o.readers.map(() => false);
    this.loops = this.o.readers.map((reader, i) => this.run(reader, i));
  }

  /** Finishes the batches in hand (unless a dependency is down), then returns. */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
  }

  /** Runs a Redis call until it succeeds (or the reader stops: RetryAborted). */
  withRedis<T>(fn: () => Promise<T>): Promise<T> {
    return retry(fn, {
      backoff: new Backoff(100, DEPENDENCY_RETRY_MAX_MS),
      signal: this.abort.signal,
      onError: (err) => {
        this.o.redisState.failed(errorText(err));
        return undefined;
      },
    }).then((out) => {
      this.o.redisState.ok();
      return out;
    });
  }

  private async run(reader: FleetRedis, pipeline: number): Promise<void> {
    const leader = pipeline === 0;
    const { streams, group, consumer } = this.o;
    const backoff = new Backoff(100, DEPENDENCY_RETRY_MAX_MS);
    let ownPending = leader;
    let ownCursor = streams.map(() => '0');
    const newIds = streams.map(() => '>');
    if (!leader)
      await Promise.race([
        this.ownPendingDone,
        new Promise((r) => this.abort.signal.addEventListener('abort', r)),
      ]);
    /** The last claim pass failed: the next turn reads (a failing pass must not starve the reads). */
    let claimFailed = false;
    while (!this.stopped) {
      let readFailed = false;
      try {
        if (leader && this.rereadOwn) {
          this.rereadOwn = false;
          ownPending = true;
          ownCursor = streams.map(() => '0');
        }
        // A gate that cannot be checked (its Redis calls fail) keeps this pipeline from reading: counted
        // as a failed read.
        const open = this.o.gate
          ? await Promise.resolve(this.o.gate()).catch((err: unknown) => {
              readFailed = true;
              this.readFailedAt[pipeline] = Date.now();
              this.lastReadError = errorText(err);
              throw err;
            })
          : true;
        if (!open) {
          this.gated[pipeline] = true;
          this.o.metrics.readPauses.inc();
          await sleep(GATE_RECHECK_MS, this.abort.signal);
          continue;
        }
        if (this.gated[pipeline]) {
          // Not reading was not failing: the wait for the next read starts now.
          this.gated[pipeline] = false;
          this.readOkAt[pipeline] = Math.max(this.readOkAt[pipeline]!, Date.now());
        }
        let entries: RawEntry[];
        const claim = leader && !claimFailed && Date.now() - this.lastClaimAt >= this.o.liveness.periodMs;
        claimFailed = false;
        try {
          if (claim) entries = await this.claimPass();
          else
            entries = await readGroup(
              reader,
              group,
              consumer,
              streams,
              ownPending ? ownCursor : newIds,
              this.o.count(),
              ownPending ? undefined : this.o.config().streams.block_ms,
            );
          this.readOkAt[pipeline] = Date.now();
        } catch (err) {
          readFailed = true;
          claimFailed = claim;
          this.readFailedAt[pipeline] = Date.now();
          this.lastReadError = errorText(err);
          throw err;
        }
        if (!claim && ownPending) {
          if (entries.length === 0) {
            ownPending = false;
            this.ownPendingDrained();
          } else {
            // Continue after what was returned; another pipeline's batch in hand is its own business.
            ownCursor = streams.map((s, i) =>
              entries.reduce((m, e) => (e.stream === s ? e.id : m), ownCursor[i]!),
            );
            entries = entries.filter((e) => !this.inFlight.has(entryKey(e)));
          }
        }
        this.o.redisState.ok();
        this.o.metrics.dependencyUp.set({ dependency: 'redis' }, 1);
        if (entries.length > 0) await this.handleAndAck(entries);
        if (leader && Date.now() - this.lastTrimAt >= TRIM_EVERY_MS) {
          this.lastTrimAt = Date.now();
          for (const s of streams) await trimAcknowledged(this.o.redis, s, [group]);
        }
        backoff.reset();
      } catch (err) {
        if (err instanceof RetryAborted || this.stopped) break;
        this.rereadOwn = true;
        const wait = backoff.next();
        this.report(err, wait, readFailed);
        // NOGROUP from XREADGROUP, "no such key" from the claim pass's XINFO: the stream or group is gone.
        if (readFailed && /NOGROUP|no such key/i.test(errorText(err))) await this.recreateGroups();
        await sleep(wait, this.abort.signal);
      }
    }
  }

  /**
   * A read answered NOGROUP (or the claim pass "no such key"): the stream or its group is gone (Redis
   * restarted without persistence, a failover to a replica that never had them, a key deleted by hand).
   * Creates them again (from id 0: whatever the stream holds now is unread); a failure is retried at the
   * next failed read.
   */
  private async recreateGroups(): Promise<void> {
    try {
      for (const s of this.o.streams) await ensureGroup(this.o.redis, s, this.o.group);
      this.o.log.warn(
        { reader: this.o.name, streams: this.o.streams, group: this.o.group },
        'consumer group was missing (Redis lost the stream or group?): created again',
      );
    } catch {
      // Redis still away or the key of another type: the next read fails and tries again.
    }
  }

  private report(err: unknown, wait: number, readFailed: boolean): void {
    if (this.o.failed?.(err, wait)) return;
    if (isRedisError(err)) {
      this.o.redisState.failed(errorText(err), wait);
      this.o.metrics.dependencyUp.set({ dependency: 'redis' }, 0);
      return;
    }
    const suppressed = this.errors.take();
    if (suppressed >= 0)
      this.o.log.error(
        { err: errorText(err), suppressed, ...(readFailed ? { streams: this.o.streams } : {}) },
        readFailed
          ? `${this.o.name} stream read failed (e.g. CROSSSLOT, a redirect that does not settle); retrying`
          : `${this.o.name} batch failed; entries stay pending and are retried`,
      );
  }

  /** One batch, handler to XACK; its entries stay in the in-flight set until acknowledged. */
  private async handleAndAck(entries: RawEntry[]): Promise<void> {
    for (const e of entries) this.inFlight.add(entryKey(e));
    try {
      await this.o.handle(entries);
      await this.withRedis(() => this.ack(entries));
    } finally {
      for (const e of entries) this.inFlight.delete(entryKey(e));
    }
  }

  /** XACK per stream: one call for one stream; several streams (standalone only) in one pipeline. */
  private async ack(entries: RawEntry[]): Promise<void> {
    if (this.o.streams.length === 1) {
      await this.o.redis.xack(this.o.streams[0]!, this.o.group, ...entries.map((e) => e.id));
      return;
    }
    const byStream = new Map<string, string[]>();
    for (const e of entries) {
      const list = byStream.get(e.stream);
      if (list) list.push(e.id);
      else byStream.set(e.stream, [e.id]);
    }
    const pipe = this.o.redis.pipeline();
    for (const [stream, ids] of byStream) pipe.xack(stream, this.o.group, ...ids);
    const results = await pipe.exec();
    for (const [err] of results ?? []) if (err) throw err;
  }

  /**
   * One claim pass per stream (every heartbeat period): takes the pending entries of dead persisters
   * (registered, liveness key expired) at once, never those of live ones however long their batch takes,
   * and those of consumers without a liveness key after claim_idle_ms. Then removes from the group the
   * consumers given up (see removalRule) that have nothing pending left, i.e. after their entries were
   * claimed, never a live one.
   */
  private async claimPass(): Promise<RawEntry[]> {
    this.lastClaimAt = Date.now();
    const cfg = this.o.config();
    const peers = await this.o.liveness.peers();
    const base = claimRule(peers, this.o.liveness.periodMs, cfg.streams.claim_idle_ms);
    const rule = (name: string) => {
      const minIdle = base(name);
      if (minIdle === null)
        this.o.log.debug({ consumer: name }, 'pending entries of a live consumer left to it');
      return minIdle;
    };
    const remove = Date.now() - this.lastRemoveAt >= Math.max(1_000, cfg.streams.claim_idle_ms / 2);
    if (remove) this.lastRemoveAt = Date.now();
    const removable = removalRule(peers, Math.max(10 * cfg.streams.claim_idle_ms, 60_000));
    const out: RawEntry[] = [];
    const count = this.o.count();
    for (const s of this.o.streams) {
      out.push(...(await claimAbandoned(this.o.redis, s, this.o.group, this.o.consumer, rule, count)));
      const own = this.o.consumer;
      const stranded = (
        await claimFrom(this.o.redis, s, this.o.group, own, own, STRANDED_IDLE_MS, count)
      ).filter((e) => !this.inFlight.has(entryKey(e)));
      if (stranded.length > 0) {
        this.o.log.warn(
          { reader: this.o.name, stream: s, entries: stranded.length },
          'took back entries left pending on this consumer without a batch in hand',
        );
        out.push(...stranded);
      }
      if (!remove) continue;
      const removed = await removeConsumers(this.o.redis, s, this.o.group, removable, this.o.consumer);
      if (removed.length > 0)
        this.o.log.info({ stream: s, consumers: removed }, 'dead consumers removed from the group');
    }
    if (out.length > 0)
      this.o.log.info(
        { reader: this.o.name, entries: out.length },
        'claimed entries left pending by a dead consumer',
      );
    return out;
  }
}

/** ioredis connection-level failures (as opposed to a command's own error reply). */
export function isRedisError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return (
    err.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|LOADING|Stream isn't writeable|CLUSTERDOWN|TRYAGAIN|None of startup nodes|Failed to refresh slots/i.test(
      err.message,
    ) ||
    (typeof code === 'string' && code.startsWith('E'))
  );
}
