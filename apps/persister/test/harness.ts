import { type FleetConfig, messagingSystemSchema } from '@fleet/config';
import {
  ENTRY_MAX_MESSAGES,
  EntryField,
  type Envelope,
  encodeEnvelope,
  encodeIngestBatch,
  encodeStatusEntry,
  FleetKeys,
  JOB_NAME,
  type JobData,
  MessageStatus,
} from '@fleet/protocol';
import { createRedis, deleteMatching, type FleetRedis } from '@fleet/redis';
import { Queue, Worker } from 'bullmq';
import pg from 'pg';
import { type DeepPartial, deepMerge } from '../../../test/helpers/config.js';
import {
  cleanupRedisPrefix,
  freshDatabase,
  maxPoolSize,
  redisUrl,
  uniquePrefix,
} from '../../../test/helpers/services.js';
import type { Logger } from '../src/log.js';

/** Shared fixtures of the stream-side persister tests: a database and a Redis prefix of their own. */
export interface Harness {
  cfg: FleetConfig;
  keys: FleetKeys;
  /** Admin connection in the config's mode (standalone, or the private cluster). */
  redis: FleetRedis;
  /** Pool on the test database for assertions. */
  pool: pg.Pool;
  dbUrl: string;
  close(): Promise<void>;
}

/**
 * A database and a Redis prefix of their own. `overrides` may point redis at a private cluster
 * (redis: { mode: 'cluster', url, nodes }): everything here then goes through the cluster client.
 */
export async function harness(name: string, overrides: DeepPartial<FleetConfig> = {}): Promise<Harness> {
  const db = await freshDatabase(`p_${name}`);
  const prefix = uniquePrefix(name);
  const poolMax = Math.min(4, maxPoolSize() ?? 4);
  const cfg = testConfig(prefix, db.url, poolMax, overrides);
  const redis = createRedis(cfg.redis, 'admin');
  redis.on('error', () => {});
  const keys = new FleetKeys(prefix, cfg.streams.shards);
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  pool.on('error', () => {});
  return {
    cfg,
    keys,
    redis,
    pool,
    dbUrl: db.url,
    async close() {
      await pool.end();
      if (cfg.redis.mode === 'cluster') await deleteMatching(redis, keys.scanPatterns());
      else await cleanupRedisPrefix(prefix, cfg.redis.url);
      redis.disconnect();
      await db.drop();
    },
  };
}

export function testConfig(
  prefix: string,
  dbUrl: string,
  poolMax: number,
  overrides: DeepPartial<FleetConfig>,
): FleetConfig {
  const base = {
    redis: { url: redisUrl(), key_prefix: prefix },
    database: { connection_string: dbUrl, pool: { max_connections: poolMax, min_connections: 0 } },
    streams: { block_ms: 50, claim_idle_ms: 1_000 },
    retry: { sweep_interval_ms: 60_000 },
    // Finished jobs leave the queue at once, as these tests count the jobs a dispatch made (allJobs reads
    // every state); keeping them (queue.keep_*, on by default) is tested in keep-finished-jobs.test.ts.
    queue: { keep_completed: { count: 0 }, keep_failed: { count: 0 } },
    ops: { port: 0 },
    logging: { level: 'warn' },
  };
  return messagingSystemSchema.parse(deepMerge(base, overrides as Record<string, unknown>));
}

export function envelope(id: string, topic = 'orders.created', over: Partial<Envelope> = {}): Buffer {
  return encodeEnvelope({
    id,
    topic,
    type: 'event',
    priority: 1,
    timestamp: Date.now(),
    headers: { k: 'v' },
    payload: Buffer.from(`payload ${id}`),
    ...over,
  });
}

/**
 * XADDs the ids the way the gateway does: ingest entries of up to `perEntry` messages (default
 * ENTRY_MAX_MESSAGES), pipelined; `legacy` writes one single-message entry per id (the format before
 * batches, still read). Returns the stream id of each id's entry.
 */
export async function publish(
  h: Harness,
  ids: string[],
  opts: { durable?: string; shard?: number; topic?: string; perEntry?: number; legacy?: boolean } = {},
): Promise<string[]> {
  const stream = h.keys.ingestStream(opts.shard ?? 0);
  const pipe = h.redis.pipeline();
  const at = String(Date.now());
  const perEntry = opts.legacy ? 1 : (opts.perEntry ?? ENTRY_MAX_MESSAGES);
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += perEntry) chunks.push(ids.slice(i, i + perEntry));
  for (const chunk of chunks) {
    if (opts.legacy) {
      const id = chunk[0]!;
      const fields: (string | Buffer)[] = [EntryField.envelope, envelope(id, opts.topic), EntryField.id, id];
      if (opts.durable) fields.push(EntryField.durableAck, opts.durable);
      pipe.xadd(stream, '*', ...fields, EntryField.acceptedAt, at);
      continue;
    }
    const batch = encodeIngestBatch(
      chunk.map((id) => ({
        envelope: envelope(id, opts.topic),
        id,
        ...(opts.durable ? { durableAck: opts.durable } : {}),
      })),
    );
    pipe.xadd(stream, '*', EntryField.batch, batch, EntryField.acceptedAt, at);
  }
  const res = await pipe.exec();
  return (res ?? []).flatMap(([err, id], i) => {
    if (err) throw err;
    return chunks[i]!.map(() => id as string);
  });
}

export async function waitUntil(
  cond: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function count(h: Harness, sql: string, values: unknown[] = []): Promise<number> {
  const res = await h.pool.query<{ n: string }>(sql, values);
  return Number(res.rows[0]?.n ?? 0);
}

/** Shard `shard`'s queue (default 0), on a connection of its own. */
export function bullQueue(h: Harness, shard = 0): Queue {
  return new Queue(h.cfg.queue.name, {
    connection: createRedis(h.cfg.redis, 'queue'),
    prefix: h.keys.bullPrefix(shard),
  });
}

/** Every shard's queue, by shard (one connection each). */
export function bullQueues(h: Harness): Queue[] {
  return h.keys.shardList().map((n) => bullQueue(h, n));
}

/** Every job now in the queue (any state) with its messages. */
export async function allJobs(
  q: Queue,
): Promise<{ id: string; ids: string[]; attempts: number[]; delay: number }[]> {
  const jobs = await q.getJobs([
    'waiting',
    'active',
    'delayed',
    'prioritized',
    'completed',
    'failed',
    'paused' as 'waiting',
  ]);
  return jobs
    .filter((j) => j !== undefined && j !== null)
    .map((j) => ({
      id: String(j.id),
      ids: (j.data as JobData).messages.map((m) => m.id),
      attempts: (j.data as JobData).messages.map((m) => m.n),
      delay: j.opts.delay ?? 0,
    }));
}

export type Outcome = 'COMPLETED' | 'FAILED' | { status: MessageStatus; error?: string };

/**
 * Stands in for apps/worker: a BullMQ Worker on shard `shard`'s queue (default 0) that reports each
 * message's outcome on that shard's status stream (PROCESSING, then the outcome), the way the real worker
 * does.
 */
export function fakeWorker(
  h: Harness,
  outcome: (id: string, attempt: number) => Outcome,
  seen?: string[],
  shard = 0,
): Worker {
  const status = h.keys.statusStream(shard);
  const conn = createRedis(h.cfg.redis, 'queue');
  return new Worker(
    h.cfg.queue.name,
    async (job) => {
      if (job.name !== JOB_NAME) return;
      const pipe = conn.pipeline();
      for (const m of (job.data as JobData).messages) {
        seen?.push(m.id);
        const o = outcome(m.id, m.n);
        const s = typeof o === 'string' ? { status: o, error: o === 'FAILED' ? 'boom' : undefined } : o;
        pipe.xadd(
          status,
          '*',
          ...encodeStatusEntry({ ids: [m.id], status: MessageStatus.PROCESSING, attempt: m.n }),
        );
        pipe.xadd(
          status,
          '*',
          ...encodeStatusEntry({
            ids: [m.id],
            status: s.status as MessageStatus,
            attempt: m.n,
            at: Date.now(),
            ...(s.error ? { error: s.error } : {}),
          }),
        );
      }
      await pipe.exec();
    },
    { connection: conn, prefix: h.keys.bullPrefix(shard), concurrency: 4 },
  );
}

/** A logger that keeps lines for assertions. */
export function memoryLogger(): Logger & { lines: { level: string; msg: string; obj: object }[] } {
  const lines: { level: string; msg: string; obj: object }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => {
    lines.push({ level, msg: msg ?? '', obj });
  };
  return { lines, info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
}
