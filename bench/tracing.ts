/**
 * Tracing overhead in the fleet: gateway ACKed msg/s and worker msg/s with tracing off, on (defaults) and with 100% span sampling, alternating in one run.
 *
 * Modes, each measured in every round (the order rotates per round so drift on a shared machine spreads
 * over all of them):
 * - off:  no trace ids at all (the gateway generates none, jobs carry none): the baseline.
 * - on:   the default config (tracing.enabled, exporter none): the gateway generates a traceparent per
 *         message, it travels in the stream entry and the job, the worker runs each handler inside it
 *         (TraceContext scope, log mixin); no spans are recorded.
 * - full: spans recorded for every message (sampling_ratio 1, BatchSpanProcessor into a discarding
 *         exporter): gateway `append` batch spans with links, worker `handle <topic>` spans.
 * Gateway: the real startGateway in this process, load from bench/_tracing-load.ts (@fleet/client runLoad) in another process
 * (10 connections x 200 in flight, 100-byte payloads); the bench XTRIMs the stream. Worker: the real
 * startWorker draining a pre-filled queue (jobs of 100 messages, concurrency 8, no-op handler that logs at
 * debug with the logger at info). Figures: medians over rounds of msg/s, and CPU µs per message of this
 * process (the gateway's or worker's own CPU: steadier than throughput on a busy machine).
 * Env: BENCH_DURATION_S (default 60: the whole run stays within it), BENCH_ROUNDS (default 3),
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
import { Redis } from 'ioredis';
import { TS_HOOK } from '../test/helpers/processes.js';
import { benchJobMessage } from './lib/job-message.js';
import { TRIM_ENTRIES } from './lib/trim.js';

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const durationS = Number(argValue('--duration-s') ?? process.env.BENCH_DURATION_S ?? 60);
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 4));
const redisUrl = process.env.FLEET_REDIS_URL ?? 'redis://127.0.0.1:6379';
const MODES = ['off', 'on', 'full'] as const;
type Mode = (typeof MODES)[number];
// About 60% of the run is measured (rounds plus one warm-up round); app start-ups and pre-fills take the rest.
const phaseS = Math.max(0.5, (durationS * 0.6) / ((rounds + 1) * MODES.length * 2));
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
const admin = new Redis(redisUrl);

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

async function gatewayPhase(mode: Mode): Promise<Sample> {
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
  try {
    const cpu0 = process.cpuUsage();
    const acked0 = gw.stats().acked;
    const r = await runLoadProcess(gw.port);
    const cpu = process.cpuUsage(cpu0);
    return {
      perS: r.ackedPerS,
      cpuUsPerMsg: (cpu.user + cpu.system) / Math.max(1, gw.stats().acked - acked0),
    };
  } finally {
    clearInterval(trim);
    await gw.close();
    await telemetry?.shutdown();
    await admin.del(stream);
  }
}

// ------------------------------------------------------------------ worker

const payload = Buffer.from('{"n":1}');
function jobs(n: number, mode: Mode): Array<{ name: string; data: JobData; opts: object }> {
  const now = Date.now();
  const out = [];
  for (let j = 0; j < n / JOB_SIZE; j++) {
    const messages: JobMessage[] = [];
    for (let i = 0; i < JOB_SIZE; i++) {
      const m = benchJobMessage(`m-${j}-${i}`, payload, now);
      if (mode !== 'off') m.t = generateTraceparent(); // what the gateway and persister hand on
      messages.push(m);
    }
    const data: JobData = { v: 1, messages };
    out.push({
      name: JOB_NAME,
      data,
      opts: { jobId: `j-${j}`, attempts: 1, removeOnComplete: true, removeOnFail: true },
    });
  }
  return out;
}

/** Messages drained per second by the real worker; the queue holds `n` messages, drained up to phaseS. */
async function workerPhase(mode: Mode, n: number): Promise<Sample> {
  const prefix = `fleet-bench-tracing-wk-${randomBytes(3).toString('hex')}`;
  const keys = new FleetKeys(prefix, 1);
  const cfg: FleetConfig = messagingSystemSchema.parse({
    redis: { url: redisUrl, key_prefix: prefix },
    thread_pools: { work: { workers: CONCURRENCY, queue_size: 1_000 } },
    queue: { batch_size: JOB_SIZE },
    monitoring: { enabled: false },
  });
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(cfg.queue.name, { connection: redis, prefix: keys.bullPrefix() });
  const telemetry = telemetryFor(mode, 'bench-worker');
  try {
    const list = jobs(n, mode);
    for (let i = 0; i < list.length; i += 500) await queue.addBulk(list.slice(i, i + 500));
    const router = new TopicRouter();
    router.subscribe('bench.#', (ctx) => ctx.logger.debug({ bytes: ctx.payload.byteLength }, 'handled'));
    const log = logger();
    const app = await startWorker(cfg, {
      router,
      logger: log,
      ...(telemetry ? { tracer: telemetry.tracer } : {}),
    });
    // Timed from the first count after the worker is up (its start-up is not part of the figure).
    const left0 = await queue.getJobCountByTypes('wait', 'active', 'prioritized', 'delayed');
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let done = 0;
    while (performance.now() - t0 < phaseS * 1000) {
      const left = await queue.getJobCountByTypes('wait', 'active', 'prioritized', 'delayed');
      done = (left0 - left) * JOB_SIZE;
      if (left === 0) break;
      await sleep(50);
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    await app.close();
    return { perS: done / seconds, cpuUsPerMsg: (cpu.user + cpu.system) / Math.max(1, done) };
  } finally {
    await telemetry?.shutdown();
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    await redis.del(keys.statusStream());
    redis.disconnect();
  }
}

// ------------------------------------------------------------------ run

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const machine = `${os.cpus()[0]?.model ?? 'cpu'}, ${os.cpus().length} cores, node ${process.version}`;
progress(
  `tracing bench: ${rounds} rounds x ${MODES.join('/')} x gateway+worker, ${phaseS.toFixed(1)} s phases, ${machine}`,
);

const gw: Record<Mode, Sample[]> = { off: [], on: [], full: [] };
const wk: Record<Mode, Sample[]> = { off: [], on: [], full: [] };
// Warm-up (not counted): JIT-compiles every mode's code paths, and sizes the worker's pre-fill to a
// phase at the measured rate (capped).
let workerN = 20_000;
for (const mode of MODES) {
  await gatewayPhase(mode);
  const w = await workerPhase(mode, workerN);
  if (mode === 'off')
    workerN = Math.min(200_000, Math.max(5_000, Math.ceil((w.perS * phaseS * 1.5) / JOB_SIZE) * JOB_SIZE));
}
progress(`  warm-up done; each worker phase pre-fills ${workerN} messages`);
for (let r = 0; r < rounds; r++) {
  const order = MODES.map((_, i) => MODES[(i + r) % MODES.length]!);
  for (const mode of order) {
    const g = await gatewayPhase(mode);
    gw[mode].push(g);
    const w = await workerPhase(mode, workerN);
    wk[mode].push(w);
    progress(
      `  round ${r + 1}/${rounds} ${mode.padEnd(4)}  gateway ${Math.round(g.perS).toLocaleString('en-US')} acked/s (${g.cpuUsPerMsg.toFixed(1)} µs/msg)  worker ${Math.round(w.perS).toLocaleString('en-US')} msg/s (${w.cpuUsPerMsg.toFixed(1)} µs/msg)`,
    );
  }
}
admin.disconnect();
loader.stdin!.end();

const summary = (samples: Record<Mode, Sample[]>) => {
  const perS = (m: Mode) => median(samples[m].map((s) => s.perS));
  const cpu = (m: Mode) => median(samples[m].map((s) => s.cpuUsPerMsg));
  return {
    perS,
    cpu,
    // Overhead: median over rounds of the throughput lost vs off in the same round (positive = slower),
    // and of the CPU added per message: pairs measured close in time cancel most of the machine's drift.
    overhead: (m: Mode) => median(samples[m].map((s, r) => (1 - s.perS / samples.off[r]!.perS) * 100)),
    cpuOverhead: (m: Mode) =>
      median(samples[m].map((s, r) => (s.cpuUsPerMsg / samples.off[r]!.cpuUsPerMsg - 1) * 100)),
  };
};
const G = summary(gw);
const W = summary(wk);
const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}%`;
console.log(
  `\nmachine: ${machine}; shared with other work: figures are noisy. Medians of ${rounds} alternating rounds; overheads are medians of per-round ratios vs off.`,
);
const row = (component: string, S: typeof G) => (m: Mode) => ({
  component,
  mode: m === 'off' ? 'off (baseline)' : m === 'on' ? 'on (defaults)' : 'full (100% spans)',
  'msg/s': Math.round(S.perS(m)),
  'ratio vs off': (S.perS(m) / S.perS('off')).toFixed(3),
  'throughput overhead': m === 'off' ? '-' : pct(S.overhead(m)),
  'cpu µs/msg': S.cpu(m).toFixed(2),
  'cpu overhead': m === 'off' ? '-' : pct(S.cpuOverhead(m)),
});
console.table([...MODES.map(row('gateway (10 conns)', G)), ...MODES.map(row('worker (jobs of 100)', W))]);
const round2 = (x: number) => Math.round(x * 100) / 100;
console.log(
  JSON.stringify({
    bench: 'tracing',
    overhead_pct: round2((G.overhead('on') + W.overhead('on')) / 2),
    full_sampling_overhead_pct: round2((G.overhead('full') + W.overhead('full')) / 2),
    gateway_overhead_pct: round2(G.overhead('on')),
    worker_overhead_pct: round2(W.overhead('on')),
    gateway_full_overhead_pct: round2(G.overhead('full')),
    worker_full_overhead_pct: round2(W.overhead('full')),
    gateway_cpu_overhead_pct: round2(G.cpuOverhead('on')),
    worker_cpu_overhead_pct: round2(W.cpuOverhead('on')),
    gateway_off_per_s: Math.round(G.perS('off')),
    worker_off_per_s: Math.round(W.perS('off')),
    rounds,
  }),
);
process.exit(0);
