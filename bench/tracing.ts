/**
 * Tracing overhead in the fleet: CPU per message (and msg/s) of the gateway and the worker with tracing off, on (defaults) and with 100% span sampling, traced phases interleaved with untraced ones.
 *
 * Modes:
 * - off:  no trace ids at all (the gateway generates none, jobs carry none): the baseline.
 * - on:   the default config (tracing.enabled, exporter none): the gateway generates a traceparent per
 *         message, it travels in the stream entry and the job, the worker runs each handler inside it
 *         (TraceContext scope, log mixin); no spans are recorded.
 * - full: spans recorded for every message (sampling_ratio 1, BatchSpanProcessor into a discarding
 *         exporter): gateway `append` batch spans with links, worker `handle <topic>` spans.
 * Gateway: three real startGateway (one per mode, started once: a phase has no start-up) in this process, load from
 * bench/_tracing-load.ts (@fleet/client runLoad) in another process (10 connections x 200 in flight,
 * 100-byte payloads); the bench XTRIMs the streams. Worker: three real startWorker (one per mode, each on its
 * own queue, started once), each phase draining its queue, topped up while paused between phases (jobs of
 * 100 messages, concurrency 8, no-op handler that logs at debug with the logger at info). No start-ups
 * between phases, so they can be short and many: neighbours see the same load of a shared box.
 * Schedule: off, on, off, on, off, full, off, ... (every traced phase between two off phases, `on` twice as
 * often as `full`) until the time budget is spent, after one warm-up phase per mode. Each traced phase is
 * paired with the mean of the off phases either side of it (a linear drift of the shared machine cancels);
 * figures are medians of those paired ratios with their spread (IQR and min..max). The headline
 * overhead_pct is CPU time per message of this process (the gateway's or worker's own CPU; msg/s swings
 * by tens of percent on a busy 2-core box, CPU per message by a few).
 * Env: BENCH_DURATION_S (default 100: the whole run stays within it), BENCH_PHASE_S (default 0.75),
 * FLEET_REDIS_URL.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { LoadResult } from '@fleet/client';
import { type FleetConfig, messagingSystemSchema } from '@fleet/config';
import { startGateway } from '@fleet/gateway';
import { createRegistry } from '@fleet/metrics';
import { FleetKeys, JOB_NAME, type JobData, type JobMessage } from '@fleet/protocol';
import { createRedis, type FleetRedis } from '@fleet/redis';
import { TopicRouter } from '@fleet/router';
import {
  createLogger,
  generateTraceparent,
  initTelemetry,
  NOOP_TRACER,
  type Telemetry,
} from '@fleet/tracing';
import { startWorker } from '@fleet/worker';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { Queue } from 'bullmq';
import { TS_HOOK } from '../test/helpers/processes.js';
import { benchJobMessage } from './lib/job-message.js';
import { TRIM_ENTRIES } from './lib/trim.js';

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const durationS = Number(argValue('--duration-s') ?? process.env.BENCH_DURATION_S ?? 100);
const phaseS = Math.max(0.25, Number(process.env.BENCH_PHASE_S ?? 0.75));
const redisUrl = process.env.FLEET_REDIS_URL ?? 'redis://127.0.0.1:6379';
const MODES = ['off', 'on', 'full'] as const;
type Mode = (typeof MODES)[number];
/** Traced phases in turn, each between two off phases. */
const TRACED: readonly Mode[] = ['on', 'on', 'full'];
const LOAD = { connections: 10, window: 200, size: 100 };
const JOB_SIZE = 100;
const CONCURRENCY = 8;
const progress = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
/** The bench's standalone Redis (FLEET_REDIS_URL), through the one client factory. */
const redisCfg = { url: redisUrl, mode: 'standalone' as const, nodes: [], nat_map: {} };
const admin = createRedis(redisCfg, 'admin');

interface Sample {
  perS: number;
  cpuUsPerMsg: number;
}

// ------------------------------------------------------------------ gateway

/** The load generator process (bench/_tracing-load.ts): one runLoad per request, answered in order. */
const loader = spawn(
  process.execPath,
  ['--import', TS_HOOK, fileURLToPath(new URL('./_tracing-load.ts', import.meta.url))],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const answers: Array<(line: string) => void> = [];
createInterface({ input: loader.stdout! }).on('line', (line) => answers.shift()?.(line));

function runLoadProcess(port: number): Promise<LoadResult> {
  const opts = { host: '127.0.0.1', port, ...LOAD, durationS: phaseS };
  return new Promise((resolve, reject) => {
    answers.push((line) => {
      const r = JSON.parse(line) as LoadResult & { error?: string };
      if (r.error) reject(new Error(`load generator: ${r.error}`));
      else resolve(r);
    });
    loader.stdin!.write(`${JSON.stringify(opts)}\n`);
  });
}

interface BenchGateway {
  gw: Awaited<ReturnType<typeof startGateway>>;
  telemetry: Telemetry | null;
  stream: string;
  trim: NodeJS.Timeout;
}

/** One gateway per mode, started once: a phase is one load run, no start-up in between. */
async function startBenchGateway(mode: Mode): Promise<BenchGateway> {
  const prefix = `fleet-bench-tracing-gw-${randomBytes(3).toString('hex')}`;
  const stream = new FleetKeys(prefix, 1).ingestStream(0);
  const cfg = messagingSystemSchema.parse({
    network: { host: '127.0.0.1', port: 0, max_in_flight: 4_096 },
    redis: { url: redisUrl, key_prefix: prefix },
  });
  const telemetry = telemetryFor(mode, 'bench-gateway');
  // off: a gateway that assigns no trace ids (the stream entries then carry none).
  const tracing = telemetry ?? { tracer: NOOP_TRACER, newTraceparent: () => '' };
  const gw = await startGateway(cfg, {
    logger: logger(),
    registry: createRegistry({ app: 'gateway', enabled: true }),
    telemetry: tracing,
  });
  const trim = setInterval(() => admin.xtrim(stream, 'MAXLEN', '~', TRIM_ENTRIES).catch(() => {}), 250);
  return { gw, telemetry, stream, trim };
}

async function gatewayPhase(g: BenchGateway): Promise<Sample> {
  const cpu0 = process.cpuUsage();
  const acked0 = g.gw.stats().acked;
  const r = await runLoadProcess(g.gw.port);
  // Spans still batched belong to this phase's cost, not the next one's.
  await g.telemetry?.forceFlush();
  const cpu = process.cpuUsage(cpu0);
  return {
    perS: r.ackedPerS,
    cpuUsPerMsg: (cpu.user + cpu.system) / Math.max(1, g.gw.stats().acked - acked0),
  };
}

async function stopBenchGateway(g: BenchGateway): Promise<void> {
  clearInterval(g.trim);
  await g.gw.close();
  await g.telemetry?.shutdown();
  await admin.del(g.stream);
}

// ------------------------------------------------------------------ worker

const payload = Buffer.from('{"n":1}');
let jobSeq = 0;
function jobs(n: number, mode: Mode): Array<{ name: string; data: JobData; opts: object }> {
  const now = Date.now();
  const out = [];
  for (let j = 0; j < n / JOB_SIZE; j++) {
    const id = jobSeq++;
    const messages: JobMessage[] = [];
    for (let i = 0; i < JOB_SIZE; i++) {
      const m = benchJobMessage(`m-${id}-${i}`, payload, now);
      if (mode !== 'off') m.t = generateTraceparent(); // what the gateway and persister hand on
      messages.push(m);
    }
    const data: JobData = { v: 1, messages };
    out.push({
      name: JOB_NAME,
      data,
      opts: { jobId: `j-${id}`, attempts: 1, removeOnComplete: true, removeOnFail: true },
    });
  }
  return out;
}

interface BenchWorker {
  mode: Mode;
  app: Awaited<ReturnType<typeof startWorker>>;
  queue: Queue;
  redis: FleetRedis;
  keys: FleetKeys;
  telemetry: Telemetry | null;
}

/** One worker per mode, started once on its own queue, which stays paused between its phases. */
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
  return { mode, app, queue, redis, keys, telemetry };
}

const jobsLeft = (q: Queue) => q.getJobCountByTypes('wait', 'active', 'prioritized', 'delayed');

/**
 * Messages drained per second by a real worker: its queue, topped up to `n` messages while paused (not
 * timed), is resumed for phaseS (or until empty), paused again, and timed until its running jobs end.
 */
async function workerPhase(w: BenchWorker, n: number): Promise<Sample> {
  const short = n - (await jobsLeft(w.queue)) * JOB_SIZE;
  const list = jobs(Math.max(0, short), w.mode);
  for (let i = 0; i < list.length; i += 500) await w.queue.addBulk(list.slice(i, i + 500));
  const left0 = await jobsLeft(w.queue);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await w.queue.resume();
  while (performance.now() - t0 < phaseS * 1000) {
    if ((await jobsLeft(w.queue)) === 0) break;
    await sleep(25);
  }
  await w.queue.pause();
  // Jobs already taken finish inside the window: none of this worker's work runs in another's phase.
  while ((await w.queue.getActiveCount()) > 0) await sleep(10);
  await w.telemetry?.forceFlush();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const done = (left0 - (await jobsLeft(w.queue))) * JOB_SIZE;
  return { perS: done / seconds, cpuUsPerMsg: (cpu.user + cpu.system) / Math.max(1, done) };
}

async function stopBenchWorker(w: BenchWorker): Promise<void> {
  await w.queue.resume().catch(() => {});
  await w.app.close();
  await w.telemetry?.shutdown();
  await w.queue.obliterate({ force: true }).catch(() => {});
  await w.queue.close();
  await w.redis.del(w.keys.statusStream(0));
  w.redis.disconnect();
}

// ------------------------------------------------------------------ run

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  return s[lo]! + (s[Math.ceil(i)]! - s[lo]!) * (i - lo);
};
const median = (xs: number[]) => quantile(xs, 0.5);
const machine = `${os.cpus()[0]?.model ?? 'cpu'}, ${os.cpus().length} cores, node ${process.version}`;
const t0 = performance.now();
const elapsedS = () => (performance.now() - t0) / 1000;
const fmt = (s: Sample, unit: string) =>
  `${Math.round(s.perS).toLocaleString('en-US')} ${unit} (${s.cpuUsPerMsg.toFixed(2)} µs/msg)`;
progress(
  `tracing bench: off/traced alternating, ${phaseS.toFixed(1)} s phases, gateway+worker, budget ${durationS} s, ${machine}`,
);

const gateways = {} as Record<Mode, BenchGateway>;
const workers = {} as Record<Mode, BenchWorker>;
for (const mode of MODES) {
  gateways[mode] = await startBenchGateway(mode);
  workers[mode] = await startBenchWorker(mode);
}

interface Step {
  mode: Mode;
  g: Sample;
  w: Sample;
}
let workerN = 20_000;
async function step(mode: Mode): Promise<Step> {
  const g = await gatewayPhase(gateways[mode]);
  const w = await workerPhase(workers[mode], workerN);
  return { mode, g, w };
}
// Warm-up (not counted): JIT-compiles every mode's code paths, and sizes the worker's pre-fill to a
// phase at the measured rate (capped).
for (const mode of MODES) {
  const { w } = await step(mode);
  if (mode === 'off')
    workerN = Math.min(200_000, Math.max(5_000, Math.ceil((w.perS * phaseS * 1.5) / JOB_SIZE) * JOB_SIZE));
}
progress(`  warm-up done (${elapsedS().toFixed(0)} s); each worker phase pre-fills ${workerN} messages`);

// off, traced, off, traced, ..., off: stop while two more phases (a traced one and its closing off) fit.
const steps: Step[] = [];
const timed = async (mode: Mode) => {
  const s0 = performance.now();
  const st = await step(mode);
  steps.push(st);
  progress(
    `  ${String(steps.length).padStart(2)} ${mode.padEnd(4)}  gateway ${fmt(st.g, 'acked/s')}  worker ${fmt(st.w, 'msg/s')}`,
  );
  return (performance.now() - s0) / 1000;
};
let longest = await timed('off');
for (let i = 0; ; i++) {
  if (elapsedS() + 2 * longest + 2 > durationS) break;
  longest = Math.max(longest, await timed(TRACED[i % TRACED.length]!));
  longest = Math.max(longest, await timed('off'));
}
for (const mode of MODES) {
  await stopBenchGateway(gateways[mode]);
  await stopBenchWorker(workers[mode]);
}
admin.disconnect();
loader.stdin!.end();

/** Per traced phase: its overhead vs the mean of the off phases either side, in %. */
type Pick = (st: Step) => Sample;
function paired(mode: Mode, pick: Pick) {
  const cpu: number[] = [];
  const thr: number[] = [];
  steps.forEach((st, i) => {
    if (st.mode !== mode) return;
    const around = [steps[i - 1], steps[i + 1]].filter((x): x is Step => x?.mode === 'off').map(pick);
    const baseCpu = around.reduce((a, s) => a + s.cpuUsPerMsg, 0) / around.length;
    const basePerS = around.reduce((a, s) => a + s.perS, 0) / around.length;
    cpu.push((pick(st).cpuUsPerMsg / baseCpu - 1) * 100);
    thr.push((1 - pick(st).perS / basePerS) * 100);
  });
  return { cpu, thr };
}
const spread = (xs: number[]) => ({
  median: median(xs),
  p25: quantile(xs, 0.25),
  p75: quantile(xs, 0.75),
  min: Math.min(...xs),
  max: Math.max(...xs),
  n: xs.length,
});
const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`;
const describe = (d: ReturnType<typeof spread>) =>
  `${pct(d.median)} [IQR ${pct(d.p25)}..${pct(d.p75)}, ${pct(d.min)}..${pct(d.max)}]`;
const components: Array<[string, Pick]> = [
  ['gateway (10 conns)', (st) => st.g],
  ['worker (jobs of 100)', (st) => st.w],
];
const stats = Object.fromEntries(
  components.flatMap(([name, pick]) =>
    (['on', 'full'] as const).map((mode) => {
      const p = paired(mode, pick);
      return [`${name}/${mode}`, { cpu: spread(p.cpu), thr: spread(p.thr) }];
    }),
  ),
);
console.log(
  `\nmachine: ${machine}; shared with other work. ${steps.length} phases in ${elapsedS().toFixed(0)} s; overheads: medians of per-phase ratios vs the mean of the off phases either side [IQR, min..max].`,
);
console.table(
  components.flatMap(([name, pick]) =>
    MODES.map((mode) => {
      const own = steps.filter((st) => st.mode === mode).map(pick);
      const st = stats[`${name}/${mode}`];
      return {
        component: name,
        mode: mode === 'off' ? 'off (baseline)' : mode === 'on' ? 'on (defaults)' : 'full (100% spans)',
        phases: own.length,
        'msg/s': Math.round(median(own.map((s) => s.perS))),
        'cpu µs/msg': median(own.map((s) => s.cpuUsPerMsg)).toFixed(2),
        'cpu overhead': st ? describe(st.cpu) : '-',
        'throughput overhead': st ? describe(st.thr) : '-',
      };
    }),
  ),
);
const r2 = (x: number) => Math.round(x * 100) / 100;
const G = stats['gateway (10 conns)/on']!;
const W = stats['worker (jobs of 100)/on']!;
const GF = stats['gateway (10 conns)/full']!;
const WF = stats['worker (jobs of 100)/full']!;
const both = (a: number, b: number) => r2((a + b) / 2);
console.log(
  JSON.stringify({
    bench: 'tracing',
    // CPU time per message, traced vs untraced: medians of paired ratios, mean of gateway and worker.
    overhead_pct: both(G.cpu.median, W.cpu.median),
    overhead_iqr_pct: [both(G.cpu.p25, W.cpu.p25), both(G.cpu.p75, W.cpu.p75)],
    full_sampling_overhead_pct: both(GF.cpu.median, WF.cpu.median),
    gateway_overhead_pct: r2(G.cpu.median),
    gateway_overhead_range_pct: [r2(G.cpu.min), r2(G.cpu.max)],
    worker_overhead_pct: r2(W.cpu.median),
    worker_overhead_range_pct: [r2(W.cpu.min), r2(W.cpu.max)],
    gateway_full_overhead_pct: r2(GF.cpu.median),
    worker_full_overhead_pct: r2(WF.cpu.median),
    // Lost msg/s, same pairing (noisier on a shared box).
    throughput_overhead_pct: both(G.thr.median, W.thr.median),
    gateway_throughput_overhead_pct: r2(G.thr.median),
    worker_throughput_overhead_pct: r2(W.thr.median),
    gateway_off_per_s: Math.round(median(steps.filter((s) => s.mode === 'off').map((s) => s.g.perS))),
    worker_off_per_s: Math.round(median(steps.filter((s) => s.mode === 'off').map((s) => s.w.perS))),
    pairs_on: G.cpu.n,
    pairs_full: GF.cpu.n,
    phase_s: phaseS,
    elapsed_s: Math.round(elapsedS()),
  }),
);
process.exit(0);
