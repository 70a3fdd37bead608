import { type FleetConfig, messagingSystemSchema } from '@fleet/config';
import {
  decodeStatusEntry,
  type Envelope,
  encodeEnvelope,
  FleetKeys,
  JOB_NAME,
  type JobData,
  type JobMessage,
} from '@fleet/protocol';
import { createRedis, deleteMatching, type FleetRedis } from '@fleet/redis';
import type { PrivateRedisCluster } from '@fleet/services';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { type DeepPartial, deepMerge } from '../../../test/helpers/config.js';
import { cleanupRedisPrefix, redisUrl, uniquePrefix } from '../../../test/helpers/services.js';

export type DeepPartialConfig = DeepPartial<FleetConfig>;

/** A worker config for in-process tests: this run's Redis under a fresh prefix, metrics off. */
export function testConfig(overrides: DeepPartial<FleetConfig> = {}): FleetConfig {
  const base = {
    redis: { url: redisUrl(), key_prefix: uniquePrefix('worker') },
    monitoring: { enabled: false },
    logging: { level: 'silent' },
    ops: { host: '127.0.0.1', worker_metrics_port: 0 },
    handlers: { shutdown_timeout_ms: 2_000 },
  };
  return messagingSystemSchema.parse(deepMerge(base, overrides as Record<string, unknown>));
}

/** testConfig on a private Redis Cluster (redis.mode cluster, its nodes as seeds). */
export function clusterTestConfig(
  cluster: PrivateRedisCluster,
  overrides: DeepPartial<FleetConfig> = {},
): FleetConfig {
  const redis = { mode: 'cluster', url: cluster.urls[0]!, nodes: cluster.urls };
  return testConfig(deepMerge(overrides as Record<string, unknown>, { redis }) as DeepPartial<FleetConfig>);
}

let seq = 0;
export function envelope(
  topic: string,
  payload: string | object = '',
  extra: Partial<Envelope> = {},
): Envelope {
  return {
    id: `m${seq++}-${Math.random().toString(36).slice(2, 8)}`,
    topic,
    type: 'event',
    priority: 0,
    timestamp: Date.now(),
    headers: {},
    payload: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)),
    ...extra,
  };
}

export function jobMessage(env: Envelope, extra: Partial<JobMessage> = {}): JobMessage {
  return { id: env.id, e: encodeEnvelope(env).toString('base64'), n: 0, ...extra };
}

export interface StatusEntry {
  id: string;
  status: string;
  attempt: number;
  error?: string;
}

/**
 * Test access to one fleet prefix (standalone or cluster): enqueue batches into a shard's queue, read the
 * shards' status streams, clean up (every master).
 */
export class FleetProbe {
  readonly keys: FleetKeys;
  readonly redis: FleetRedis;
  private readonly queues = new Map<number, Queue>();

  constructor(readonly cfg: FleetConfig) {
    this.keys = new FleetKeys(cfg.redis.key_prefix, cfg.streams.shards);
    this.redis = createRedis(cfg.redis, 'queue');
    this.redis.on('error', () => {});
  }

  /** Shard 0's queue. */
  get queue(): Queue {
    return this.queueOf(0);
  }

  /** Shard n's queue (BullMQ prefix keys.bullPrefix(n)). */
  queueOf(shard: number): Queue {
    let q = this.queues.get(shard);
    if (!q) {
      q = new Queue(this.cfg.queue.name, { connection: this.redis, prefix: this.keys.bullPrefix(shard) });
      q.on('error', () => {});
      this.queues.set(shard, q);
    }
    return q;
  }

  /** Adds one job per batch to shard `shard`'s queue (ids deterministic per batch, like the persister's). */
  async enqueue(batches: JobMessage[][], shard = 0): Promise<void> {
    await this.queueOf(shard).addBulk(
      batches.map((messages, i) => ({
        name: JOB_NAME,
        data: { v: 1, messages } satisfies JobData,
        opts: { jobId: `t-${messages[0]?.id ?? i}`, attempts: 1, removeOnComplete: true, removeOnFail: true },
      })),
    );
  }

  /** Status entries of one shard's stream, or of every shard's (in shard order). */
  async statuses(shard?: number): Promise<StatusEntry[]> {
    const shards = shard === undefined ? this.keys.shardList() : [shard];
    const entries = (
      await Promise.all(shards.map((n) => this.redis.xrange(this.keys.statusStream(n), '-', '+')))
    ).flat();
    // One entry per job outcome; one StatusEntry per message id here.
    return entries.flatMap(([, fields]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      const d = decodeStatusEntry(f);
      if (!d) throw new Error(`malformed status entry: ${JSON.stringify(f)}`);
      return d.ids.map((id) => {
        const e: StatusEntry = { id, status: d.status, attempt: d.attempt };
        if (d.error !== undefined) e.error = d.error;
        return e;
      });
    });
  }

  /** Final (non-PROCESSING) status entries by message id, once every id has one. */
  async waitForOutcomes(ids: readonly string[], timeoutMs = 15_000): Promise<Map<string, StatusEntry[]>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const byId = new Map<string, StatusEntry[]>();
      for (const s of await this.statuses()) {
        if (s.status === 'PROCESSING') continue;
        const list = byId.get(s.id) ?? [];
        list.push(s);
        byId.set(s.id, list);
      }
      const missing = ids.filter((id) => !byId.has(id));
      if (missing.length === 0) return byId;
      if (Date.now() > deadline)
        throw new Error(`no outcome for ${missing.length} of ${ids.length} messages (e.g. ${missing[0]})`);
      await sleep(50);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    // A cluster client still discovering its nodes would scan connections it is about to replace.
    if (this.redis.status !== 'ready')
      await new Promise((resolve) => {
        this.redis.once('ready', resolve);
        setTimeout(resolve, 5_000).unref();
      });
    await deleteMatching(this.redis, this.keys.scanPatterns());
    this.redis.disconnect();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/**
 * Raw BullMQ connections (ioredis, maxRetriesPerRequest null as BullMQ's Workers need) under a fresh key
 * prefix, for tests that drive BullMQ directly; close() disconnects them and deletes the prefix's keys.
 */
export function bullConnections(tag: string) {
  const prefix = uniquePrefix(tag);
  const open: Redis[] = [];
  return {
    prefix,
    connection(): Redis {
      const r = new Redis(redisUrl(), { maxRetriesPerRequest: null });
      r.on('error', () => {});
      open.push(r);
      return r;
    },
    async close(): Promise<void> {
      for (const r of open) r.disconnect();
      await cleanupRedisPrefix(prefix);
    },
  };
}
