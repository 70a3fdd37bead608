import keySlot from 'cluster-key-slot';

/**
 * The one home of Redis key, stream, channel, group and queue names.
 *
 * Layout (the same in standalone and cluster mode, docs/architecture.md "Redis keys and slots"):
 * - Everything one shard's messages touch shares one hash tag `{<prefix>:s<n>…}`: its ingest stream, its
 *   BullMQ queue (all of BullMQ's keys and scripts) and its status stream. Every atomic step (an XADD, a
 *   BullMQ script, a MULTI of job adds) stays in one Cluster slot, and the shards spread over the masters.
 *   The prefix sits inside the tag so two fleets on one cluster hash to different slots.
 * - A gateway's reply and durable-notice channels share the tag `{<prefix>:g:<gateway id>}` (one SSUBSCRIBE
 *   covers both; gateways spread over the masters).
 * - Keys of no shard (persister liveness) are `<prefix>:...`; each is used alone (no multi-key command).
 * scanPatterns() matches all of them (clean-up, inspection).
 */
/** Redis Cluster hash slots (CRC16 of a key's hash tag mod 16384). */
export const CLUSTER_SLOTS = 16384;

export const PERSISTER_GROUP = 'persister';

/** Shard tags per (shards, prefix): found once per process (spreadTag). */
const tagCache = new Map<string, string[]>();
export const STATUS_GROUP = 'persister-status';
export const DEFAULT_QUEUE = 'messages';

export class FleetKeys {
  private readonly tags: string[];

  constructor(
    readonly prefix: string,
    readonly shards: number,
  ) {
    if (!Number.isInteger(shards) || shards < 1)
      throw new Error(`shards must be a positive integer, got ${shards}`);
    const key = `${shards}/${prefix}`;
    let tags = tagCache.get(key);
    if (!tags) {
      tags = this.shardList().map((n) => spreadTag(prefix, n, shards));
      tagCache.set(key, tags);
    }
    this.tags = tags;
  }

  /** 0 .. shards-1. */
  shardList(): number[] {
    return Array.from({ length: this.shards }, (_, i) => i);
  }

  /**
   * Hash tag of one shard, `{<prefix>:s<n>}` or `{<prefix>:s<n>~<k>}`: every key of the shard hashes to its
   * slot, chosen in the n-th of `shards` equal slot ranges (spreadTag), so shards spread over masters.
   */
  shardTag(shard: number): string {
    const tag = this.tags[shard];
    if (tag === undefined) throw new Error(`shard ${shard} is not in 0..${this.shards - 1}`);
    return tag;
  }

  /** The Cluster slot of shard n's keys. */
  shardSlot(shard: number): number {
    return keySlot(this.shardTag(shard));
  }

  /** Ingest stream for one shard: `{<prefix>:s<n>…}:ingest`. */
  ingestStream(shard: number): string {
    return `${this.shardTag(shard)}:ingest`;
  }

  ingestStreams(): string[] {
    return this.shardList().map((s) => this.ingestStream(s));
  }

  /** Workers append the outcomes of shard n's jobs here; the persister applies them to Postgres in batches. */
  statusStream(shard: number): string {
    return `${this.shardTag(shard)}:status`;
  }

  statusStreams(): string[] {
    return this.shardList().map((s) => this.statusStream(s));
  }

  /** BullMQ `prefix` option of shard n's queue: BullMQ builds `{<prefix>:s<n>…}:<queue>:<suffix>` keys. */
  bullPrefix(shard: number): string {
    return this.shardTag(shard);
  }

  /** The shard whose BullMQ prefix is `bullPrefix` (undefined if it is none of this fleet's). */
  shardOfBullPrefix(bullPrefix: string): number | undefined {
    const n = this.tags.indexOf(bullPrefix);
    return n >= 0 ? n : undefined;
  }

  /**
   * Liveness key of one persister (its consumer name in the stream groups): set with a short TTL and
   * renewed by the persister's heartbeat; its value is the persister's dispatch watermark (ms).
   */
  persisterAlive(consumer: string): string {
    return `${this.prefix}:persister:alive:${consumer}`;
  }

  /** Hash of the persisters that heartbeat (consumer name -> last beat, ms): listed here without a live key = dead. */
  persisterRegistry(): string {
    return `${this.prefix}:persister:registry`;
  }

  /** Hash tag of one gateway's channels. */
  gatewayTag(gatewayId: string): string {
    return `{${this.prefix}:g:${gatewayId}}`;
  }

  /** Channel on which a gateway receives replies for the requests it holds. */
  replyChannel(gatewayId: string): string {
    return `${this.gatewayTag(gatewayId)}:reply`;
  }

  /** Channel on which a gateway hears that `durable` publishes were committed to Postgres. */
  durableChannel(gatewayId: string): string {
    return `${this.gatewayTag(gatewayId)}:durable`;
  }

  /** SCAN MATCH patterns that together cover every key of this fleet (run on every master). */
  scanPatterns(): string[] {
    return [`${globEscape(this.prefix)}:*`, `{${globEscape(this.prefix)}:*`];
  }

  /** Stable shard for a topic (or a client-given partition key): FNV-1a 32-bit mod shards. */
  shardOf(key: string): number {
    if (this.shards === 1) return 0;
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) {
      h ^= key.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    return (h >>> 0) % this.shards;
  }
}

/** Escapes Redis glob specials in a literal (prefixes allow only [A-Za-z0-9_:.-], but be exact anyway). */
function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * The hash tag of shard n of `shards`: `{<prefix>:s<n>}` when its slot falls near the middle of the n-th of
 * `shards` equal slot ranges (the middle quarter), else `{<prefix>:s<n>~<k>}` with the smallest k >= 1 that
 * puts it there. Tags that differ in one character hash far from uniformly (CRC16 is linear: 8 shards over
 * 3 masters split 4/2/2 for about 9 prefixes in 10, one master taking half the traffic). The middles of
 * equal ranges fall into the contiguous slot ranges a cluster is created with (`redis-cli --cluster
 * create`) as evenly as the count allows (8 shards on 3 masters: 3/2/3). Deterministic (prefix and shard
 * count); about 4 x `shards` CRC16s per shard, once at start.
 */
export function spreadTag(prefix: string, shard: number, shards: number): string {
  const width = CLUSTER_SLOTS / shards;
  const lo = Math.floor((shard + 0.375) * width);
  const hi = Math.max(lo + 1, Math.floor((shard + 0.625) * width));
  for (let k = 0; ; k++) {
    const tag = k === 0 ? `${prefix}:s${shard}` : `${prefix}:s${shard}~${k}`;
    const slot = keySlot(tag);
    if (slot >= lo && slot < hi) return `{${tag}}`;
  }
}
