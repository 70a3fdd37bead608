import { type FleetRedis, isCluster, masters } from '@fleet/redis';
import { LogLimiter } from './backoff.js';

/**
 * Redis memory pressure as a state with two marks (hysteresis): a process turns "overloaded" at the high
 * mark and back at the low mark, so it does not flap around one threshold. Sampled on a timer (INFO
 * memory, XLEN of the ingest streams), never per message; between samples the caller adds what it wrote
 * itself (noteAppended, per Redis batch) so a burst cannot run far past the high mark before the next sample.
 */
export interface PressureBounds {
  /** Fractions of maxmemory (used when Redis has a maxmemory). */
  memoryHigh: number;
  memoryLow: number;
  /** Ingest backlog in messages (used when maxmemory is 0); backlogHigh 0 = no bound. */
  backlogHigh: number;
  backlogLow: number;
}

export interface PressureSample {
  /** INFO memory `used_memory` and `maxmemory` (0 = no limit). */
  usedMemory: number;
  maxMemory: number;
  /** Estimated messages in the ingest streams (0 when the monitor watches no stream). */
  backlogMessages: number;
}

export type PressureReason = 'memory' | 'backlog';

/** used_memory / maxmemory, or 0 when Redis has no maxmemory. */
export function memoryRatio(s: PressureSample): number {
  return s.maxMemory > 0 ? s.usedMemory / s.maxMemory : 0;
}

/**
 * The next state from the current one and a sample. With a maxmemory only memory counts (the backlog
 * bound is the stand-in for when there is none): overloaded from memoryHigh, until below memoryLow.
 * Without, the same with the backlog marks. Returns the reason when overloaded, null otherwise.
 */
export function nextPressure(
  current: PressureReason | null,
  s: PressureSample,
  b: PressureBounds,
): PressureReason | null {
  if (s.maxMemory > 0) {
    const ratio = s.usedMemory / s.maxMemory;
    return ratio >= (current ? b.memoryLow : b.memoryHigh) ? 'memory' : null;
  }
  if (b.backlogHigh <= 0) return null;
  return current
    ? s.backlogMessages > b.backlogLow
      ? 'backlog'
      : null
    : s.backlogMessages >= b.backlogHigh
      ? 'backlog'
      : null;
}

export interface MemoryInfo {
  usedMemory: number;
  maxMemory: number;
}

/** `used_memory` and `maxmemory` of an INFO memory reply. */
export function parseMemoryInfo(info: string): MemoryInfo {
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:(\\d+)`, 'm').exec(info);
    if (!m) throw new Error(`INFO memory has no ${name}`);
    return Number(m[1]);
  };
  return { usedMemory: field('used_memory'), maxMemory: field('maxmemory') };
}

/**
 * The fullest of several servers (cluster masters): the highest used_memory / maxmemory among those with a
 * maxmemory; when none has one, the highest used_memory (maxmemory 0: the backlog marks apply).
 */
export function fullest(mems: readonly MemoryInfo[]): MemoryInfo {
  let best: MemoryInfo | null = null;
  for (const m of mems) {
    if (best === null) best = m;
    else if (m.maxMemory > 0 && best.maxMemory > 0) {
      if (m.usedMemory / m.maxMemory > best.usedMemory / best.maxMemory) best = m;
    } else if (m.maxMemory > 0) best = m;
    else if (best.maxMemory === 0 && m.usedMemory > best.usedMemory) best = m;
  }
  if (best === null) throw new Error('no memory info');
  return best;
}

/**
 * Stream bytes an appended message costs beyond its envelope: its id, traceparent, reply address and
 * length prefixes in the batch entry, as an upper estimate.
 */
export const MESSAGE_OVERHEAD_BYTES = 160;

/** Weight of the newest entry in the moving average of messages per ingest entry. */
const ENTRY_AVERAGE_WEIGHT = 0.05;

interface PressureLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface PressureMonitorOptions {
  /**
   * A command connection (INFO and XLEN are cheap and never blocked by a full Redis). On a Redis Cluster:
   * INFO memory of every master (the fullest decides) and one XLEN per stream, each routed to its slot.
   */
  redis: FleetRedis;
  /** Ingest streams whose length makes the backlog (empty: memory only). */
  streams: readonly string[];
  bounds: () => PressureBounds;
  intervalMs: () => number;
  log: PressureLog;
  /** What is paused while overloaded, for the transition log lines ("publishes", "dispatch"). */
  what: string;
  /** Messages per ingest entry assumed until this process has appended some (the backlog estimate). */
  initialMessagesPerEntry?: number;
  /** After each sample (metrics). */
  onSample?: (s: PressureSample, overloaded: boolean) => void;
}

/**
 * Samples Redis every intervalMs and keeps `overloaded` (read on the hot path: one field) with hysteresis.
 * Logs each transition once; a failing sample keeps the last state and logs at most every 5 s.
 */
export class PressureMonitor {
  /** Non-null while overloaded. */
  reason: PressureReason | null = null;
  private last: PressureSample = { usedMemory: 0, maxMemory: 0, backlogMessages: 0 };
  private entries = 0;
  private pendingBytes = 0;
  private pendingMessages = 0;
  private messagesPerEntry: number;
  private timer: NodeJS.Timeout | null = null;
  private waitingSince = 0;
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly errors = new LogLimiter();

  constructor(private readonly o: PressureMonitorOptions) {
    this.messagesPerEntry = o.initialMessagesPerEntry ?? 1;
  }

  get overloaded(): boolean {
    return this.reason !== null;
  }

  get lastSample(): PressureSample {
    return this.last;
  }

  /** Samples once now, then every intervalMs. */
  async start(): Promise<void> {
    await this.sampleNow();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.waitingSince = Date.now();
    this.arm(this.o.intervalMs());
  }

  private arm(delay: number): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.sampleNow().finally(() => {
        this.running = null;
        this.schedule();
      });
    }, delay);
    this.timer.unref();
  }

  /**
   * Applies a changed intervalMs (hot reload) to the wait under way, counted from when it began: a reload
   * from a minute to 250 ms does not wait out the minute. A sample in progress schedules with the new one.
   */
  reschedule(): void {
    if (this.stopped || this.timer === null) return;
    clearTimeout(this.timer);
    this.arm(Math.max(0, this.waitingSince + this.o.intervalMs() - Date.now()));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /**
   * One ingest entry this process appended (per Redis batch, not per message): counted into the estimate
   * until the next sample measures it, and into the messages-per-entry average of the backlog estimate.
   */
  noteAppended(batch: ReadonlyArray<{ envelope: { length: number } }>): void {
    let bytes = 0;
    for (let i = 0; i < batch.length; i++) bytes += batch[i]!.envelope.length;
    this.pendingMessages += batch.length;
    this.messagesPerEntry += (batch.length - this.messagesPerEntry) * ENTRY_AVERAGE_WEIGHT;
    this.noteWritten(bytes + batch.length * MESSAGE_OVERHEAD_BYTES);
  }

  /**
   * `bytes` this process wrote to Redis (an estimate, e.g. the persister's new jobs): counted into memory
   * until the next sample measures it, so writing past the high mark pauses at once, not a sample later
   * (a late timer on a loaded host would otherwise let a burst of writes run Redis into maxmemory).
   */
  noteWritten(bytes: number): void {
    this.pendingBytes += bytes;
    if (this.reason === null) this.evaluate(this.estimate());
  }

  /** Reads INFO memory and the stream lengths; the new state replaces the estimate. */
  async sampleNow(): Promise<void> {
    try {
      const { mem, entries } = isCluster(this.o.redis)
        ? await this.readCluster()
        : await this.readStandalone(this.o.redis);
      this.entries = entries;
      this.pendingBytes = 0;
      this.pendingMessages = 0;
      this.last = {
        ...mem,
        backlogMessages: Math.round(entries * this.messagesPerEntry),
      };
      this.evaluate(this.last);
      this.o.onSample?.(this.last, this.overloaded);
    } catch (err) {
      const skipped = this.errors.take();
      if (skipped >= 0)
        this.o.log.warn(
          { err: (err as Error).message, suppressed: skipped },
          'redis pressure sample failed; keeping the last state',
        );
    }
  }

  /** One server: INFO memory and every XLEN in one pipeline (one round trip). */
  private async readStandalone(redis: FleetRedis): Promise<{ mem: MemoryInfo; entries: number }> {
    const pipe = redis.pipeline().info('memory');
    for (const s of this.o.streams) pipe.xlen(s);
    const results = (await pipe.exec()) ?? [];
    for (const [err] of results) if (err) throw err;
    const mem = parseMemoryInfo(results[0]![1] as string);
    let entries = 0;
    for (let i = 1; i < results.length; i++) entries += results[i]![1] as number;
    return { mem, entries };
  }

  /**
   * A cluster: INFO memory on each master, the fullest one (highest used/maxmemory; without maxmemory the
   * most used) stands for the cluster, since a shard's writes fail when its own master is full. One XLEN
   * per stream, each to the master of its slot (no cross-slot pipeline). A master that does not answer
   * fails the sample (the last state is kept).
   */
  private async readCluster(): Promise<{ mem: MemoryInfo; entries: number }> {
    const redis = this.o.redis;
    const [infos, lens] = await Promise.all([
      Promise.all(masters(redis).map((m) => m.info('memory'))),
      Promise.all(this.o.streams.map((s) => redis.xlen(s))),
    ]);
    if (infos.length === 0) throw new Error('no cluster master known');
    return { mem: fullest(infos.map(parseMemoryInfo)), entries: lens.reduce((a, b) => a + b, 0) };
  }

  /** The last sample plus what this process appended since. */
  private estimate(): PressureSample {
    return {
      usedMemory: this.last.usedMemory + this.pendingBytes,
      maxMemory: this.last.maxMemory,
      backlogMessages: Math.round(this.entries * this.messagesPerEntry) + this.pendingMessages,
    };
  }

  private evaluate(s: PressureSample): void {
    const next = nextPressure(this.reason, s, this.o.bounds());
    if (next === this.reason) return;
    const detail = {
      used_memory: s.usedMemory,
      maxmemory: s.maxMemory,
      memory_ratio: Number(memoryRatio(s).toFixed(3)),
      backlog_messages: s.backlogMessages,
    };
    if (next)
      this.o.log.warn({ ...detail, reason: next }, `redis under pressure (${next}): pausing ${this.o.what}`);
    else this.o.log.info(detail, `redis pressure relieved: resuming ${this.o.what}`);
    this.reason = next;
  }
}
