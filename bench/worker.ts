/**
 * Worker throughput: messages/s through one fleet worker (TopicRouter, no-op handler, status stream) for
 * batch_size 1 and 100, each beside a bare BullMQ Worker with a no-op processor on the same jobs.
 *
 * Each case pre-fills its own queue (jobs added directly, as the persister would) and then times one
 * consumer draining it: the fleet worker is the real startWorker (concurrency thread_pools.work.workers = 8,
 * one status entry per job outcome, PROCESSING first for jobs past 50 ms); the baseline is
 * `new Worker(queue, processor)` with the same concurrency, prefix, job options and batching, its processor
 * touching each message of the job and doing nothing. Done is detected the same way for both: jobs gone
 * from the queue (wait/active/prioritized/delayed counts; jobs are removed on completion). The headline
 * ratio compares like with like (batch 100 vs bare batch 100; batch 1 vs bare batch 1); the old unlike
 * figure (fleet batch 100 over bare one-message jobs) stays as `ratio_vs_one_per_job`. Each case stops at
 * its time budget and reports what it drained. One shard (streams.shards 1): shard 0's queue and status
 * stream, the worker's single ungated shard Worker. Env: BENCH_DURATION_S (default 60, bounds the run),
 * BENCH_SIZE (payload bytes), FLEET_REDIS_URL (default local, standalone).
 */
import { randomBytes } from 'node:crypto';
import { benchPayload } from '@fleet/client';
import { type FleetConfig, messagingSystemSchema } from '@fleet/config';
import { FleetKeys, JOB_NAME, type JobData, type JobMessage } from '@fleet/protocol';
import { createRedis, type FleetRedis } from '@fleet/redis';
import { TopicRouter } from '@fleet/router';
import { createLogger } from '@fleet/tracing';
import { Queue, Worker } from 'bullmq';
import { startWorker } from '../apps/worker/src/worker.js';
import { benchJobMessage } from './lib/job-message.js';
import { machine } from './lib/machine.js';

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const durationS = Number(process.env.BENCH_DURATION_S ?? argValue('--duration-s') ?? 60);
const redisUrl = process.env.FLEET_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CONCURRENCY = 8;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const progress = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** BENCH_SIZE: payload bytes (default the 7-byte `{"n":1}`); bigger payloads drain fewer messages (below). */
const payload = process.env.BENCH_SIZE
  ? benchPayload(Number(process.env.BENCH_SIZE))
  : Buffer.from('{"n":1}');
/** Messages per case scaled down for big payloads (2 KB worth of each count: ~0.8 GB of jobs in Redis at 8 KB), each case still draining for seconds. */
const count = (n: number) => Math.max(1_000, Math.round(n * Math.min(1, 2048 / payload.length)));
/** A BullMQ connection (queue role) to the bench's standalone Redis. */
const bullConnection = (): FleetRedis =>
  createRedis({ url: redisUrl, mode: 'standalone', nodes: [], nat_map: {} }, 'queue');
function jobMessages(n: number, tag: string): JobMessage[] {
  const now = Date.now();
  return Array.from({ length: n }, (_, i) => benchJobMessage(`${tag}-${i}`, payload, now));
}

async function prefill(queue: Queue, messages: JobMessage[], batchSize: number): Promise<number> {
  const jobs = [];
  for (let i = 0; i < messages.length; i += batchSize) {
    const chunk = messages.slice(i, i + batchSize);
    jobs.push({
      name: JOB_NAME,
      data: { v: 1, messages: chunk } satisfies JobData,
      opts: { jobId: `j-${chunk[0]!.id}`, attempts: 1, removeOnComplete: true, removeOnFail: true },
    });
  }
  for (let i = 0; i < jobs.length; i += 1_000) await queue.addBulk(jobs.slice(i, i + 1_000));
  return jobs.length;
}

interface CaseResult {
  name: string;
  batchSize: number;
  messages: number;
  seconds: number;
  msgsPerS: number;
  jobsPerS: number;
  /** CPU time of this process (worker + polling) per message drained. */
  cpuUsPerMsg: number;
}

/** Polls `done()` until it reaches `total` or the budget ends; returns messages done and seconds. */
async function timeDrain(label: string, total: number, budgetMs: number, done: () => Promise<number>) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let lastLog = t0;
  let count = 0;
  while (performance.now() - t0 < budgetMs) {
    count = await done();
    if (count >= total) break;
    if (performance.now() - lastLog > 2_000) {
      lastLog = performance.now();
      progress(`  ${label}: ${count}/${total} after ${round((lastLog - t0) / 1000)} s`);
    }
    await sleep(20);
  }
  const cpu = process.cpuUsage(cpu0);
  const drained = Math.min(count, total);
  return {
    count: drained,
    seconds: (performance.now() - t0) / 1000,
    cpuUsPerMsg: (cpu.user + cpu.system) / Math.max(1, drained),
  };
}

async function fleetCase(batchSize: number, n: number, budgetMs: number): Promise<CaseResult> {
  const prefix = `fleet-bench-worker-${randomBytes(4).toString('hex')}`;
  const cfg: FleetConfig = messagingSystemSchema.parse({
    redis: { url: redisUrl, key_prefix: prefix },
    thread_pools: { work: { workers: CONCURRENCY, queue_size: 1_000 } },
    queue: { batch_size: batchSize },
    monitoring: { enabled: false },
    logging: { level: 'silent' },
  });
  const keys = new FleetKeys(prefix, 1);
  const redis = createRedis(cfg.redis, 'queue');
  const queue = new Queue(cfg.queue.name, { connection: redis, prefix: keys.bullPrefix(0) });
  try {
    const jobs = await prefill(queue, jobMessages(n, `b${batchSize}`), batchSize);
    progress(`fleet worker, batch_size ${batchSize}: ${n} messages in ${jobs} jobs queued; draining`);
    const router = new TopicRouter();
    router.subscribe('bench.#', () => {});
    const logger = createLogger({ name: 'bench', level: 'silent' });
    const app = await startWorker(cfg, { router, logger });
    // A job is removed on completion, after its outcomes are in the status stream: done = jobs gone.
    const r = await timeDrain(`batch_size ${batchSize}`, n, budgetMs, drained(queue, jobs, batchSize));
    await app.close();
    return {
      name: `fleet worker, batch_size ${batchSize}`,
      batchSize,
      messages: r.count,
      seconds: r.seconds,
      msgsPerS: r.count / r.seconds,
      jobsPerS: r.count / batchSize / r.seconds,
      cpuUsPerMsg: r.cpuUsPerMsg,
    };
  } finally {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    await redis.del(keys.statusStream(0));
    redis.disconnect();
  }
}

/** Messages drained so far, from the queue's own counts (the same detection for every case). */
function drained(queue: Queue, jobs: number, batchSize: number) {
  return async () =>
    (jobs - (await queue.getJobCountByTypes('wait', 'active', 'prioritized', 'delayed'))) * batchSize;
}

async function baselineCase(batchSize: number, n: number, budgetMs: number): Promise<CaseResult> {
  const prefix = `fleet-bench-worker-${randomBytes(4).toString('hex')}`;
  const keys = new FleetKeys(prefix, 1);
  const redis = bullConnection();
  const queue = new Queue('messages', { connection: redis, prefix: keys.bullPrefix(0) });
  try {
    const jobs = await prefill(queue, jobMessages(n, `base${batchSize}`), batchSize);
    progress(`bare BullMQ worker, ${batchSize} msg/job: ${n} messages in ${jobs} jobs queued; draining`);
    let touched = 0;
    const worker = new Worker(
      'messages',
      async (job) => {
        touched += (job.data as JobData).messages.length;
      },
      {
        connection: bullConnection(),
        prefix: keys.bullPrefix(0),
        concurrency: CONCURRENCY,
      },
    );
    worker.on('error', () => {});
    const r = await timeDrain(`baseline ${batchSize}/job`, n, budgetMs, drained(queue, jobs, batchSize));
    await worker.close();
    if (touched < r.count)
      progress(`  baseline ${batchSize}/job: processor saw ${touched} < ${r.count} drained`);
    return {
      name: `baseline: bare BullMQ Worker, no-op, ${batchSize} msg/job`,
      batchSize,
      messages: r.count,
      seconds: r.seconds,
      msgsPerS: r.count / r.seconds,
      jobsPerS: r.count / batchSize / r.seconds,
      cpuUsPerMsg: r.cpuUsPerMsg,
    };
  } finally {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    redis.disconnect();
  }
}

const budget = (share: number) => Math.max(2_000, durationS * 1000 * share);
progress(`worker bench: up to ${durationS} s; ${machine().text}`);
const base1 = await baselineCase(1, count(20_000), budget(0.2));
const b1 = await fleetCase(1, count(20_000), budget(0.2));
const base100 = await baselineCase(100, count(300_000), budget(0.25));
const b100 = await fleetCase(100, count(300_000), budget(0.25));

console.log(
  `\n${machine().text}; concurrency ${CONCURRENCY}; ${payload.length}-byte payloads; Redis ${new URL(redisUrl).host}`,
);
console.table(
  [
    [base1, base1],
    [b1, base1],
    [base100, base100],
    [b100, base100],
  ].map(([c, base]) => ({
    case: c!.name,
    messages: c!.messages,
    seconds: round(c!.seconds, 2),
    'msgs/s': Math.round(c!.msgsPerS),
    'jobs/s': Math.round(c!.jobsPerS),
    'cpu µs/msg': round(c!.cpuUsPerMsg),
    'ratio vs bare, same batching': round(c!.msgsPerS / base!.msgsPerS, 2),
  })),
);
console.log(
  JSON.stringify({
    bench: 'worker',
    payload_bytes: payload.length,
    msgs_per_s: Math.round(b100.msgsPerS),
    batch_size: 100,
    baseline_per_s: Math.round(base100.msgsPerS),
    ratio: round(b100.msgsPerS / base100.msgsPerS, 2),
    msgs_per_s_batch1: Math.round(b1.msgsPerS),
    baseline_per_s_batch1: Math.round(base1.msgsPerS),
    ratio_batch1: round(b1.msgsPerS / base1.msgsPerS, 2),
    ratio_vs_one_per_job: round(b100.msgsPerS / base1.msgsPerS, 2),
  }),
);
process.exit(0);
