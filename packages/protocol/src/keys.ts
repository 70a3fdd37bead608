/**
 * The one home of Redis key, stream, channel, group and queue names.
 *
 * Layout (the same in standalone and cluster mode, docs/architecture.md "Redis keys and slots"):
 * - Everything one shard's messages touch shares one hash tag `{<prefix>:s<n>}`: its ingest stream, its
 *   BullMQ queue (all of BullMQ's keys and scripts) and its status stream. Every atomic step (an XADD, a
 *   BullMQ script, a MULTI of job adds) stays in one Cluster slot, and the shards spread over the masters.
 *   The prefix sits inside the tag so two fleets on one cluster hash to different slots.
 * - A gateway's reply and durable-notice channels share the tag `{<prefix>:g:<gateway id>}` (one SSUBSCRIBE
 *   covers both; gateways spread over the masters).
 * - Keys of no shard (persister liveness) are `<prefix>:...`; each is used alone (no multi-key command).
 * scanPatterns() matches all of them (clean-up, inspection).
 */
export const PERSISTER_GROUP = 'persister';
export const STATUS_GROUP = 'persister-status';
export const DEFAULT_QUEUE = 'messages';

export class FleetKeys {
  constructor(
    readonly prefix: string,
    readonly shards: number,
  ) {
    if (!Number.isInteger(shards) || shards < 1)
      throw new Error(`shards must be a positive integer, got ${shards}`);
  }

  /** 0 .. shards-1. */
  shardList(): number[] {
    return Array.from({ length: this.shards }, (_, i) => i);
  }

  /** Hash tag of one shard: every key of the shard hashes to the slot of `<prefix>:s<n>`. */
  shardTag(shard: number): string {
    return `{${this.prefix}:s${shard}}`;
  }

  /** Ingest stream for one shard: `{<prefix>:s<n>}:ingest`. */
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

  /** BullMQ `prefix` option of shard n's queue: BullMQ builds `{<prefix>:s<n>}:<queue>:<suffix>` keys. */
  bullPrefix(shard: number): string {
    return this.shardTag(shard);
  }

  /** The shard whose BullMQ prefix is `bullPrefix` (undefined if it is none of this fleet's). */
  shardOfBullPrefix(bullPrefix: string): number | undefined {
    const m = /^\{(.*):s(\d+)\}$/.exec(bullPrefix);
    if (!m || m[1] !== this.prefix) return undefined;
    const n = Number(m[2]);
    return n < this.shards ? n : undefined;
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
