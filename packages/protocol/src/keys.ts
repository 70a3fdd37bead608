/**
 * The one home of Redis key, stream, channel, group and queue names.
 * Every name starts with the configured prefix (tests use a unique one per run).
 * Hash tags ({...}) keep what one Redis command or script touches in one Cluster slot:
 * each ingest shard has its own tag (shards spread over nodes); BullMQ keys share one tag.
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

  /** Ingest stream for one shard: `<prefix>:{ingest-<n>}`. */
  ingestStream(shard: number): string {
    return `${this.prefix}:{ingest-${shard}}`;
  }

  ingestStreams(): string[] {
    return Array.from({ length: this.shards }, (_, i) => this.ingestStream(i));
  }

  /** Workers append message outcomes here; the persister applies them to Postgres in batches. */
  statusStream(): string {
    return `${this.prefix}:{status}`;
  }

  /** BullMQ `prefix` option: BullMQ builds `<prefix>:<queue>:<suffix>` keys, all in the `{jobs}` slot. */
  bullPrefix(): string {
    return `${this.prefix}:{jobs}`;
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

  /** Pub/sub channel on which a gateway receives replies for the requests it holds. */
  replyChannel(gatewayId: string): string {
    return `${this.prefix}:reply:${gatewayId}`;
  }

  /** Pub/sub channel on which a gateway hears that `durable` publishes were committed to Postgres. */
  durableChannel(gatewayId: string): string {
    return `${this.prefix}:durable:${gatewayId}`;
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
