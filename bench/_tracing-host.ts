/**
 * One app host of bench/tracing.ts (its own process, so its CPU time is its own): a real startGateway per
 * mode (off, on, full; replaced by fresh ones on `gw-renew`) and two real startWorkers (one serves off and
 * on, one full), driven over IPC by the bench. A phase is bracketed by `begin` / `end` in here, so what it
 * reports is this process's CPU time (all its threads, process.cpuUsage) per message handled in the phase.
 * Run with --expose-gc: the bench collects garbage before each phase (the worker's top-up makes plenty), so
 * a collection lands in the phase that made it.
 */
import { randomBytes } from 'node:crypto';
import { type FleetConfig, messagingSystemSchema } from '@fleet/config';
import { startGateway } from '@fleet/gateway';
import { createRegistry } from '@fleet/metrics';
import {
  derivedTraceMark,
  encodeJobData,
  FleetKeys,
  JOB_NAME,
  type JobData,
  type JobMessage,
  newMessageId,
} from '@fleet/protocol';
import { createRedis, type FleetRedis } from '@fleet/redis';
import { TopicRouter } from '@fleet/router';
import {
  createLogger,
  generateTraceparent,
  initTelemetry,
  NOOP_TRACER,
  type Telemetry,
  TRACE_FLAG_SAMPLED,
} from '@fleet/tracing';
import { startWorker } from '@fleet/worker';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { Queue } from 'bullmq';
import { benchJobMessage } from './lib/job-message.js';
import { TRIM_ENTRIES } from './lib/trim.js';

export const MODES = ['off', 'on', 'full'] as const;
export type Mode = (typeof MODES)[number];
export const JOB_SIZE = 100;
const CONCURRENCY = 8;

/** Requests from the bench (one at a time per host) and their answers. */
export type HostRequest =
  | { op: 'gw-begin'; mode: Mode }
  | { op: 'gw-end'; mode: Mode }
  | { op: 'gw-renew'; modes: Mode[] }
  | { op: 'wk-fill'; mode: Mode; messages: number }
  | { op: 'wk-run'; mode: Mode; seconds: number }
  | { op: 'close' };
export interface PhaseResult {
  cpuUs: number;
  messages: number;
  seconds: number;
}
export interface HostReady {
  ready: true;
}

const redisUrl = process.env.FLEET_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** BENCH_TRACING_AA=1: an A/A run, `on` configured as `off` in both apps (what the bench reads when nothing differs). */
const configured = (mode: Mode): Mode =>
  process.env.BENCH_TRACING_AA === '1' && mode === 'on' ? 'off' : mode;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

/** Drops every span (the cost measured is recording and batching, not a collector). */
const discard: SpanExporter = {
  export: (_spans: ReadableSpan[], done) => done({ code: 0 }),
  shutdown: async () => {},
};
const telemetryFor = (mode: Mode, service: string): Telemetry | null =>
  mode === 'off'
    ? null
    : initTelemetry({
        serviceName: service,
        exporter: 'none',
        samplingRatio: 1,
        enabled: true,
        global: false,
        ...(mode === 'full' ? { spanExporter: discard } : {}),
      });
const logger = () =>
  createLogger({ name: 'bench', level: 'info', writers: [{ type: 'file', path: '/dev/null' }] });
const redisCfg = { url: redisUrl, mode: 'standalone' as const, nodes: [], nat_map: {} };
const admin = createRedis(redisCfg, 'admin');

// ------------------------------------------------------------------ gateway

interface BenchGateway {
  gw: Awaited<ReturnType<typeof startGateway>>;
  telemetry: Telemetry | null;
  stream: string;
  trim: NodeJS.Timeout;
  cpu0: NodeJS.CpuUsage;
  acked0: number;
  t0: number;
}

async function startBenchGateway(mode: Mode): Promise<BenchGateway> {
  const prefix = `fleet-bench-tracing-gw-${randomBytes(3).toString('hex')}`;
  const stream = new FleetKeys(prefix, 1).ingestStream(0);
  const cfg = messagingSystemSchema.parse({
    network: { host: '127.0.0.1', port: 0, max_in_flight: 4_096 },
    redis: { url: redisUrl, key_prefix: prefix },
  });
  const telemetry = telemetryFor(configured(mode), 'bench-gateway');
  // off: a gateway that assigns no trace ids (the stream entries then carry none).
  const tracing = telemetry ?? { tracer: NOOP_TRACER, newTraceparent: () => '' };
  const gw = await startGateway(cfg, {
    logger: logger(),
    registry: createRegistry({ app: 'gateway', enabled: true }),
    telemetry: tracing,
  });
  // The bench stands in for the persister: the stream is trimmed, never read.
  const trim = setInterval(() => admin.xtrim(stream, 'MAXLEN', '~', TRIM_ENTRIES).catch(() => {}), 250);
  return { gw, telemetry, stream, trim, cpu0: process.cpuUsage(), acked0: 0, t0: 0 };
}

async function closeBenchGateway(g: BenchGateway): Promise<void> {
  clearInterval(g.trim);
  await g.gw.close();
  await g.telemetry?.shutdown();
  await admin.del(g.stream);
}

// ------------------------------------------------------------------ worker

const payload = Buffer.from('{"n":1}');
/** Jobs are built once per mode and added again and again under new job ids (the fill stays cheap). */
const JOB_VARIANTS = 64;
const built = new Map<Mode, JobData[]>();
function jobData(mode: Mode): JobData[] {
  let list = built.get(mode);
  if (!list) {
    const now = Date.now();
    list = [];
    for (let j = 0; j < JOB_VARIANTS; j++) {
      const messages: JobMessage[] = [];
      for (let i = 0; i < JOB_SIZE; i++) {
        const m = benchJobMessage(newMessageId(now), payload, now);
        // What the gateway and persister hand on for a message without a traceparent: with spans off, the
        // derived mark of its (UUID) id, once per job (JobData.t); with spans recorded, a generated traceparent.
        if (mode === 'full') m.t = generateTraceparent();
        messages.push(m);
      }
      list.push(encodeJobData(messages, mode === 'on' ? derivedTraceMark(TRACE_FLAG_SAMPLED) : undefined));
    }
    built.set(mode, list);
  }
  return list;
}

interface BenchWorker {
  app: Awaited<ReturnType<typeof startWorker>>;
  queue: Queue;
  redis: FleetRedis;
  keys: FleetKeys;
  telemetry: Telemetry | null;
  /** The mode of the jobs in its queue (a shared worker's queue is emptied when the mode changes). */
  filled: Mode | null;
}

/** A worker on its own queue, which stays paused between its phases. */
async function startBenchWorker(mode: Mode): Promise<BenchWorker> {
  const prefix = `fleet-bench-tracing-wk-${randomBytes(3).toString('hex')}`;
  const keys = new FleetKeys(prefix, 1);
  const cfg: FleetConfig = messagingSystemSchema.parse({
    redis: { url: redisUrl, key_prefix: prefix },
    thread_pools: { work: { workers: CONCURRENCY, queue_size: 1_000 } },
    queue: { batch_size: JOB_SIZE },
    monitoring: { enabled: false },
  });
  // Shard 0 of a one-shard fleet: the worker's single (ungated) shard Worker.
  const redis = createRedis(cfg.redis, 'queue');
  const queue = new Queue(cfg.queue.name, { connection: redis, prefix: keys.bullPrefix(0) });
  await queue.pause();
  const telemetry = telemetryFor(mode, 'bench-worker');
  const router = new TopicRouter();
  router.subscribe('bench.#', (ctx) => ctx.logger.debug({ bytes: ctx.payload.byteLength }, 'handled'));
  const app = await startWorker(cfg, {
    router,
    logger: logger(),
    ...(telemetry ? { tracer: telemetry.tracer } : {}),
  });
  return { app, queue, redis, keys, telemetry, filled: null };
}

const jobsLeft = (q: Queue) => q.getJobCountByTypes('wait', 'active', 'prioritized', 'delayed');
let jobSeq = 0;

/** Tops the paused queue up to `n` messages (not timed). */
async function fill(w: BenchWorker, mode: Mode, n: number): Promise<void> {
  if (w.filled !== mode) await w.queue.drain();
  w.filled = mode;
  const short = Math.ceil((n - (await jobsLeft(w.queue)) * JOB_SIZE) / JOB_SIZE);
  const data = jobData(configured(mode));
  for (let done = 0; done < short; ) {
    const batch = [];
    for (let k = 0; k < 500 && done < short; k++, done++) {
      const id = jobSeq++;
      batch.push({
        name: JOB_NAME,
        data: data[id % JOB_VARIANTS]!,
        opts: { jobId: `j-${id}`, attempts: 1, removeOnComplete: true, removeOnFail: true },
      });
    }
    await w.queue.addBulk(batch);
  }
}

/** Resumes the queue for `seconds` (or until it is empty), pauses it, and waits out the jobs taken. */
async function drain(w: BenchWorker, seconds: number): Promise<PhaseResult> {
  const left0 = await jobsLeft(w.queue);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await w.queue.resume();
  while (performance.now() - t0 < seconds * 1000) {
    if ((await jobsLeft(w.queue)) === 0) break;
    await sleep(25);
  }
  await w.queue.pause();
  // Jobs already taken finish inside the window: none of this worker's work runs in another phase.
  while ((await w.queue.getActiveCount()) > 0) await sleep(10);
  await w.telemetry?.forceFlush();
  const cpu = process.cpuUsage(cpu0);
  const elapsed = (performance.now() - t0) / 1000;
  const messages = (left0 - (await jobsLeft(w.queue))) * JOB_SIZE;
  return { cpuUs: cpu.user + cpu.system, messages, seconds: elapsed };
}

// ------------------------------------------------------------------ IPC

const gateways = {} as Record<Mode, BenchGateway>;
for (const mode of MODES) gateways[mode] = await startBenchGateway(mode);
// With spans off the worker of `on` is the worker of `off` (telemetryFor('on') gives the no-op tracer):
// what differs is the jobs, whose messages carry the derived mark. One instance serves both, so a
// difference between two instances (connections, queue keys, when each was warmed) cannot pass for the
// cost of tracing; its queue is emptied and refilled when the mode changes (outside the timing).
if (telemetryFor('on', 'bench-worker')?.tracer !== NOOP_TRACER) throw new Error('`on` records spans');
const untraced = await startBenchWorker('off');
const workers: Record<Mode, BenchWorker> = {
  off: untraced,
  on: untraced,
  full: await startBenchWorker('full'),
};
const send = (m: unknown) => process.send!(m);
send({ ready: true } satisfies HostReady);

async function handle(req: HostRequest): Promise<unknown> {
  switch (req.op) {
    case 'gw-begin': {
      const g = gateways[req.mode];
      gc();
      g.acked0 = g.gw.stats().acked;
      g.t0 = performance.now();
      g.cpu0 = process.cpuUsage();
      return g.gw.port;
    }
    case 'gw-renew': {
      // Fresh gateways for the next pair, started in the order given: whatever one instance happens to
      // cost more than another (it persisted for a whole run: A/A runs read +3.4% and -1.6%) is drawn
      // again per pair, so it averages out over the pairs instead of biasing the run.
      const ports: Partial<Record<Mode, number>> = {};
      for (const mode of req.modes) {
        await closeBenchGateway(gateways[mode]);
        gateways[mode] = await startBenchGateway(mode);
        ports[mode] = gateways[mode].gw.port;
      }
      return ports;
    }
    case 'gw-end': {
      const g = gateways[req.mode];
      // Spans still batched belong to this phase's cost, not the next one's.
      await g.telemetry?.forceFlush();
      const cpu = process.cpuUsage(g.cpu0);
      return {
        cpuUs: cpu.user + cpu.system,
        messages: g.gw.stats().acked - g.acked0,
        seconds: (performance.now() - g.t0) / 1000,
      } satisfies PhaseResult;
    }
    case 'wk-fill':
      await fill(workers[req.mode], req.mode, req.messages);
      gc();
      return null;
    case 'wk-run':
      return drain(workers[req.mode], req.seconds);
    case 'close': {
      for (const g of Object.values(gateways)) await closeBenchGateway(g);
      for (const w of new Set(Object.values(workers))) {
        await w.queue.resume().catch(() => {});
        await w.app.close();
        await w.telemetry?.shutdown();
        await w.queue.obliterate({ force: true }).catch(() => {});
        await w.queue.close();
        await w.redis.del(w.keys.statusStream(0));
        w.redis.disconnect();
      }
      admin.disconnect();
      return null;
    }
  }
}

process.on('message', (msg: { id: number; req: HostRequest }) => {
  handle(msg.req).then(
    (result) => {
      send({ id: msg.id, result });
      if (msg.req.op === 'close') setTimeout(() => process.exit(0), 50);
    },
    (err: Error) => send({ id: msg.id, error: err.stack ?? err.message }),
  );
});
// The bench gone (killed): do not linger.
process.on('disconnect', () => process.exit(0));
