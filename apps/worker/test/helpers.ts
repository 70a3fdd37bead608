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
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { type DeepPartial, deepMerge } from '../../../test/helpers/config.js';
import { cleanupRedisPrefix, redisUrl, uniquePrefix } from '../../../test/helpers/services.js';

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

/** Test access to one fleet prefix: enqueue batches, read the status stream, clean up. */
export class FleetProbe {
  readonly keys: FleetKeys;
  readonly redis: Redis;
  readonly queue: Queue;

  constructor(readonly cfg: FleetConfig) {
    this.keys = new FleetKeys(cfg.redis.key_prefix, cfg.streams.shards);
    this.redis = new Redis(cfg.redis.url, { maxRetriesPerRequest: null });
    this.redis.on('error', () => {});
    this.queue = new Queue(cfg.queue.name, { connection: this.redis, prefix: this.keys.bullPrefix() });
    this.queue.on('error', () => {});
  }

  /** Adds one job per batch (ids deterministic per batch, like the persister's). */
  async enqueue(batches: JobMessage[][]): Promise<void> {
    await this.queue.addBulk(
      batches.map((messages, i) => ({
        name: JOB_NAME,
        data: { v: 1, messages } satisfies JobData,
        opts: { jobId: `t-${messages[0]?.id ?? i}`, attempts: 1, removeOnComplete: true, removeOnFail: true },
      })),
    );
  }

  async statuses(): Promise<StatusEntry[]> {
    const entries = await this.redis.xrange(this.keys.statusStream(), '-', '+');
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
    await this.queue.close();
    this.redis.disconnect();
    await cleanupRedisPrefix(this.cfg.redis.key_prefix);
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
