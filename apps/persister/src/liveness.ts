import { LogLimiter } from '@fleet/pressure';
import type { FleetKeys } from '@fleet/protocol';
import type { FleetRedis } from '@fleet/redis';
import { errorText, type Logger } from './log.js';

/** Heartbeats per TTL: the key survives two missed beats. */
export const BEATS_PER_TTL = 3;
/** A registry entry whose persister has not beaten for this long is forgotten (its pending entries, if any, then fall to the claim_idle_ms path). */
const REGISTRY_FORGET_MS = 3_600_000;

/** What one look at the registry says about the persisters that heartbeat. */
export interface PeerStates {
  /** Live persisters (this one included) -> dispatch watermark (ms, each persister's own clock). */
  alive: Map<string, number>;
  /** Registered persisters whose liveness key expired: dead (or frozen longer than the TTL). */
  dead: Set<string>;
  /**
   * Registered persisters without a key while this persister's own heartbeat failed within the last TTL
   * (Redis away: every key may have expired meanwhile): left alone until their next beat can be trusted.
   */
  unsure: Set<string>;
}

/**
 * A persister's liveness: a Redis key `persisterAlive(consumer)` with a TTL of `streams.consumer_ttl_ms`,
 * renewed every third of it by a timer that does not wait on any batch, plus the consumer's name in
 * `persisterRegistry()`. Peers tell a dead persister (registered, no key) from a live slow one (key
 * renewed, however long its batch takes) and from a persister of an older version (not registered).
 *
 * The key's value is the dispatch watermark: the start time of the oldest batch this persister has begun
 * to persist and not yet handed to BullMQ (now, when none). Rows committed before every live persister's
 * watermark are not about to be enqueued by anyone, which lets the sweeper re-dispatch a dead persister's
 * undispatched rows within seconds instead of after retry.sweep_age_ms.
 */
export class Liveness {
  private readonly inFlight = new Map<number, number>();
  private nextToken = 0;
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;
  private beats = 0;
  /** At most one "liveness lost" / "heartbeat failed" line per interval. */
  private readonly logs = new LogLimiter();
  /** Since when every beat succeeded (0 after a failure); at start-up trusted at once. */
  private healthySince = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly redis: FleetRedis,
    private readonly keys: FleetKeys,
    readonly consumer: string,
    private readonly ttlMs: () => number,
    private readonly log: Logger,
  ) {}

  /** Heartbeat period: a third of the TTL. */
  get periodMs(): number {
    return Math.max(1, Math.floor(this.ttlMs() / BEATS_PER_TTL));
  }

  /** Marks the start of a dispatch (before the commit); pass the token to `end` once the jobs are added. */
  begin(): number {
    const token = ++this.nextToken;
    this.inFlight.set(token, Date.now());
    return token;
  }

  end(token: number): void {
    this.inFlight.delete(token);
  }

  /** Start of the oldest dispatch in flight, or now. */
  watermark(): number {
    let w = Date.now();
    for (const t of this.inFlight.values()) if (t < w) w = t;
    return w;
  }

  /** First beat (awaited: the persister reads no entry before it is live), then one per period. */
  async start(): Promise<void> {
    await this.beat();
    const tick = () => {
      this.timer = setTimeout(() => {
        this.beating = this.beat()
          .catch(() => {})
          .finally(() => {
            this.beating = null;
            if (this.timer) tick();
          });
      }, this.periodMs);
      this.timer.unref?.();
    };
    tick();
  }

  /** Graceful stop: the key goes at once, so peers take over anything still pending without waiting. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.beating;
    await this.redis.del(this.keys.persisterAlive(this.consumer)).catch(() => {});
  }

  private async beat(): Promise<void> {
    try {
      // Two keys of two slots: two commands (no cross-slot pipeline on a cluster), sent together.
      const [previous] = await Promise.all([
        // GET: the previous value tells whether the key had expired (we were taken for dead).
        this.redis.set(
          this.keys.persisterAlive(this.consumer),
          String(this.watermark()),
          'PX',
          this.ttlMs(),
          'GET',
        ),
        this.redis.hset(this.keys.persisterRegistry(), this.consumer, String(Date.now())),
      ]);
      if (this.healthySince === 0) this.healthySince = Date.now();
      if (this.beats++ > 0 && previous === null)
        this.rateLimited('warn', {}, 'liveness key had expired: peers may have taken over pending entries');
    } catch (err) {
      this.healthySince = 0;
      this.rateLimited('warn', { err: errorText(err) }, 'heartbeat failed; retrying next period');
      throw err;
    }
  }

  private rateLimited(level: 'warn', obj: object, msg: string): void {
    const suppressed = this.logs.take();
    if (suppressed >= 0) this.log[level]({ consumer: this.consumer, ...obj, suppressed }, msg);
  }

  /** Live and dead registered persisters; forgets registry entries silent for an hour. */
  async peers(): Promise<PeerStates> {
    const registry = await this.redis.hgetall(this.keys.persisterRegistry());
    const names = Object.keys(registry);
    // One GET per key (each its own slot on a cluster), sent together; a failure fails the look.
    const values = await Promise.all(names.map((name) => this.redis.get(this.keys.persisterAlive(name))));
    const alive = new Map<string, number>();
    const dead = new Set<string>();
    const unsure = new Set<string>();
    // After an outage of our own heartbeat, the others' keys may have expired while they lived too.
    const trusted = this.healthySince !== 0 && Date.now() - this.healthySince >= this.ttlMs();
    const forget: string[] = [];
    names.forEach((name, i) => {
      const value = values[i];
      if (typeof value === 'string') alive.set(name, Number(value));
      else if (Date.now() - Number(registry[name]) > REGISTRY_FORGET_MS) forget.push(name);
      else if (trusted) dead.add(name);
      else unsure.add(name);
    });
    if (forget.length > 0) await this.redis.hdel(this.keys.persisterRegistry(), ...forget);
    return { alive, dead, unsure };
  }
}

/**
 * The claim rule shared by the ingest and status consumers, for a consumer holding pending entries:
 * alive -> never claimed (however long its batch takes); registered but dead -> claimed at once (entries
 * idle a heartbeat period, which they are: the key outlived the consumer's last read by two periods);
 * unknown (a persister without a liveness key) -> after `legacyIdleMs` idle, as before liveness existed;
 * unsure (this persister's own heartbeat failed lately) -> not now.
 */
export function claimRule(
  peers: PeerStates,
  periodMs: number,
  legacyIdleMs: number,
): (consumer: string) => number | null {
  return (name) =>
    peers.alive.has(name) || peers.unsure.has(name) ? null : peers.dead.has(name) ? periodMs : legacyIdleMs;
}

/**
 * Which consumers a claim pass may delete from the group once nothing is pending on them (their entries
 * were claimed first): registered dead persisters at once, consumers without a liveness key (an older
 * persister) after `legacyIdleMs` idle; never a live persister, nor one this persister is unsure about.
 */
export function removalRule(peers: PeerStates, legacyIdleMs: number): (consumer: string) => number | null {
  return (name) =>
    peers.alive.has(name) || peers.unsure.has(name) ? null : peers.dead.has(name) ? 0 : legacyIdleMs;
}
