/**
 * End to end: publish -> COMPLETED in Postgres (msg/s, p50/p95/p99) for batch_size 1 and the default, beside gateway-only and persister-only figures.
 *
 * Everything runs on this machine as separate processes, started as production starts them (the bundles
 * the run builds first, `node apps/<app>/dist/main.js --config FILE` with NODE_OPTIONS = APP_NODE_FLAGS;
 * BENCH_SOURCE=1: the TypeScript sources): one gateway, one persister, BENCH_WORKERS workers (default 1:
 * one worker process keeps up, and on 2 cores a second one only adds its own overhead), the local Redis and
 * Postgres, and the load generator (@fleet/client runLoad, bench/_gateway-load.ts) in a process of its own.
 * Phases, each on its own Redis key prefix, one database created for the run and dropped at the end:
 *   A. gateway only: stream ACKs with no persister draining (the bench XTRIMs the stream instead);
 *   B. persister only: a pre-filled stream drained into Postgres + BullMQ (no workers, no load);
 *   C. end to end, batch_size 1;  D. end to end, the default batch_size (config default, 100);
 *   E. D's fleet at a fixed rate (80% of D's msg/s);  S. D's closed loop again with 1 KB and 8 KB payloads.
 * C, D and S publish with `durable` ACKs (the ACK waits for the Postgres commit), so the load is closed-loop on
 * durability and the backlog between publish and COMPLETED stays bounded. Latency is
 * `messages.updated_at - sent_at` (envelope timestamp -> the status UPDATE that made the row COMPLETED),
 * over messages sent in the measured window after a 5 s warm-up (the apps start cold for each phase: JIT,
 * prepared statements, script loads; the first seconds build a backlog a running fleet does not have); after
 * the load stops the bench waits (up to 30 s) for the stragglers, and every message sent in the window
 * counts in the percentiles: one not COMPLETED by then counts with its latency up to the bench's end time (a
 * lower bound) and in `not_completed` (JSON line). msg/s = rows that became COMPLETED inside the window.
 * CPU per message (cpu_us_per_msg, D; _1k/_8k for S): CPU seconds (/proc/<pid>/stat, read at each progress
 * line after the warm-up) of the gateway, persister and worker processes, redis-server (its pid from INFO
 * server; INFO cpu when Redis is not local), the Postgres backends of the run's database (its own progress
 * connection left out; its autovacuum workers shown apart too) and Postgres' background writer, checkpointer
 * and WAL writer, divided by the rows that became COMPLETED between the first and the last reading; the load
 * generator is shown, not counted.
 * Env: BENCH_DURATION_S (default 60: load time, split over A-E; each S phase adds 20% of it, at least 10 s;
 * process start-up comes on top), BENCH_SIZES (S's payload bytes, default 1024,8192; '' skips S),
 * BENCH_WORKERS, BENCH_CONNECTIONS (8), BENCH_WINDOW (200 publishes in flight per connection), BENCH_SIZE,
 * BENCH_BATCH (batch_size of D/E/S), BENCH_ONLY=B|D|E|S (one phase and its figures, for iterating; E at
 * BENCH_RATE msg/s), BENCH_SPLIT=1 (latency split: sent -> inserted, inserted -> COMPLETED), BENCH_SOURCE=1,
 * BENCH_NODE_OPTIONS (the apps' node flags instead of APP_NODE_FLAGS; '' = V8's defaults), BENCH_PROFILE_DIR.
 * Writes docs/bench-e2e.svg (completed msg/s and p99 latency per second for C and D).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadOptions, LoadResult } from '@fleet/client';
import { messagingSystemSchema } from '@fleet/config';
import { FleetKeys } from '@fleet/protocol';
import {
  appNodeOptions,
  createDatabase,
  dropDatabase,
  LOCAL_POSTGRES_URL,
  LOCAL_REDIS_URL,
} from '@fleet/services';
import * as hdr from 'hdr-histogram-js';
import { Redis } from 'ioredis';
import pg from 'pg';
import { stringify } from 'yaml';
import {
  type AppProcess,
  buildAppBundle,
  killAllApps,
  REPO_ROOT,
  spawnApp,
  spawnAppBundle,
  spawnScript,
} from '../test/helpers/processes.js';
import { cleanupRedisPrefix } from '../test/helpers/services.js';
import { machine } from './lib/machine.js';
import { prefillIngestStream } from './lib/prefill-stream.js';
import { cpuSeconds, treeCpuSeconds } from './lib/proc-cpu.js';
import { lineChartSvg } from './lib/svg-plot.js';
import { TRIM_ENTRIES } from './lib/trim.js';

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const envInt = (name: string, dflt: number) => Number(process.env[name] ?? dflt);

const durationS = Number(argValue('--duration-s') ?? process.env.BENCH_DURATION_S ?? 60);
const WORKERS = envInt('BENCH_WORKERS', 1);
const CONNECTIONS = envInt('BENCH_CONNECTIONS', 8);
/**
 * 8 x 200 durable publishes in flight saturate the fleet (500 gave the same msg/s within this box's noise)
 * while the saturated latency stays the pipeline's, not a 4,000-message queue in front of it.
 */
const WINDOW = envInt('BENCH_WINDOW', 200);
const SIZE = envInt('BENCH_SIZE', 100);
/** Worker job concurrency and messages held (thread_pools.work): the worker is round-trip bound, not CPU bound. */
const WORK_CONCURRENCY = envInt('BENCH_WORK_CONCURRENCY', 32);
const WORK_QUEUE = envInt('BENCH_WORK_QUEUE', 10_000);
/** The example handlers (default) or, with BENCH_HANDLERS=noop, a no-op on order.# (bench/lib/noop-handlers.ts). */
const HANDLERS =
  process.env.BENCH_HANDLERS === 'noop'
    ? fileURLToPath(new URL('./lib/noop-handlers.ts', import.meta.url))
    : join(REPO_ROOT, 'examples/handlers/index.ts');
/**
 * The apps run as production runs them (Dockerfile CMD): the esbuild bundles in apps/<app>/dist on plain
 * node, built at the start of the run. BENCH_SOURCE=1 runs the TypeScript sources (scripts/register-ts.mjs) instead.
 */
const FROM_SOURCE = !!process.env.BENCH_SOURCE;
const DEFAULT_BATCH = Number(process.env.BENCH_BATCH ?? messagingSystemSchema.parse({}).queue.batch_size);
const WARMUP_S = 5;
const phase = {
  gatewayS: Math.max(3, Math.round(durationS * 0.15)),
  drainS: Math.max(5, Math.round(durationS * 0.15)),
  batch1S: Math.max(5, Math.round(durationS * 0.2)),
  defaultS: Math.max(6, Math.round(durationS * 0.25)),
  rateS: Math.max(6, Math.round(durationS * 0.25)),
  /** Each size phase; they come on top of BENCH_DURATION_S (A-E share it). */
  sizeS: Math.max(10, Math.round(durationS * 0.2)),
};
/**
 * Payload sizes of the size phases (D's closed loop at other sizes: cost per byte). BENCH_SIZES: a comma list
 * of byte counts, '' for none.
 */
const SIZES = (process.env.BENCH_SIZES ?? '1024,8192')
  .split(',')
  .filter((x) => x.trim() !== '')
  .map(Number);
/** JSON key suffix of a size: 1k, 8k, or 300b. */
const sizeKey = (bytes: number) => (bytes % 1024 === 0 ? `${bytes / 1024}k` : `${bytes}b`);
/** Phase E offers this share of D's measured capacity at a fixed rate: latency when the fleet keeps up. */
const RATE_SHARE = Number(process.env.BENCH_RATE_SHARE ?? 0.8);

const redisUrl = process.env.FLEET_REDIS_URL ?? LOCAL_REDIS_URL;
const server = process.env.FLEET_BENCH_POSTGRES_URL ?? LOCAL_POSTGRES_URL;
const tag = randomBytes(3).toString('hex');
const dbName = `fleet_bench_e2e_${tag}`;
const dir = mkdtempSync(join(os.tmpdir(), `fleet-bench-e2e-${tag}-`));
const prefixes: string[] = [];
const log = (line: string) => process.stderr.write(`${line}\n`);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

let dbUrl = '';
let db: pg.Client | undefined;
const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });

/** A config file for one phase: its own key prefix, this run's database, every port picked by the OS. */
function writeConfig(name: string, batchSize: number): { path: string; prefix: string } {
  const prefix = `fleet-bench-e2e-${tag}-${name}`;
  prefixes.push(prefix);
  const path = join(dir, `${name}.yaml`);
  const config = {
    network: { host: '127.0.0.1', port: 0, max_in_flight: 4096 },
    redis: { url: redisUrl, key_prefix: prefix },
    database: { connection_string: dbUrl, pool: { max_connections: 8 } },
    // info: the apps' "ready" line is info; nothing is logged per message at info.
    logging: { level: 'info', writers: [{ type: 'console' }] },
    thread_pools: { work: { workers: WORK_CONCURRENCY, queue_size: WORK_QUEUE } },
    streams: { read_count: 2000, block_ms: 50 },
    queue: { batch_size: batchSize },
    tracing: { exporter: 'none' },
    ops: { host: '127.0.0.1', port: 0, gateway_metrics_port: 0, worker_metrics_port: 0 },
    handlers: { modules: [HANDLERS] },
  };
  writeFileSync(path, stringify({ messaging_system: config }));
  return { path, prefix };
}

async function startApps(
  config: string,
  which: Array<'gateway' | 'persister' | 'worker'>,
): Promise<AppProcess[]> {
  // BENCH_PROFILE_DIR: every app writes a V8 CPU profile there when it exits (where does the time go?).
  const profile = process.env.BENCH_PROFILE_DIR;
  const preload = fileURLToPath(new URL('./lib/cpu-profile-preload.mjs', import.meta.url));
  // The apps' production node flags (APP_NODE_FLAGS); BENCH_NODE_OPTIONS replaces them ('' = V8's defaults).
  const nodeOptions = [
    profile ? `--import ${preload}` : '',
    process.env.BENCH_NODE_OPTIONS ?? appNodeOptions(),
  ]
    .join(' ')
    .trim();
  const env = {
    ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
    ...(profile ? { FLEET_CPU_PROFILE_DIR: profile } : {}),
  };
  const apps = which.map((app) =>
    FROM_SOURCE ? spawnApp(app, { config, env }) : spawnAppBundle(app, { config, env }),
  );
  await Promise.all(
    apps.map((a) =>
      a.waitReady(90_000).catch((err: Error) => {
        throw new Error(`${a.app} did not start: ${err.message}`);
      }),
    ),
  );
  return apps;
}

async function stopApps(apps: AppProcess[]): Promise<void> {
  await Promise.all(apps.map((a) => a.stop(10_000)));
}

function portOf(readyLine: string): number {
  const m = readyLine.match(/"port":(\d+)/);
  if (!m) throw new Error(`no port in ready line: ${readyLine}`);
  return Number(m[1]);
}

// ---- CPU per message ---------------------------------------------------------------------------------
/** The fleet's stages in the CPU-per-message figure; the load generator is the client and stays out of it. */
const STAGES = ['gateway', 'persister', 'worker', 'postgres', 'redis'] as const;
type Stage = (typeof STAGES)[number];
/**
 * Postgres' shared processes that write this run's pages and WAL: counted in the postgres stage. They also
 * serve every other database of the server, so on a shared box their share is an upper bound.
 */
const PG_BACKGROUND = ['background writer', 'checkpointer', 'walwriter'];

/** One reading of a process: its row in the CPU table, its stage, CPU seconds so far. */
interface ProcReading {
  name: string;
  stage: Stage | 'client';
  s: number;
}
/** CPU seconds of every process at one moment, keyed by pid ('redis' when read through INFO cpu). */
interface CpuSample {
  at: number;
  procs: Map<string, ProcReading>;
}

/** The redis-server serving the bench, when it runs on this machine (its /proc entry says redis-server). */
let redisPid: number | undefined;
async function findRedisPid(): Promise<void> {
  const pid = Number((await redis.info('server')).match(/process_id:(\d+)/)?.[1]);
  try {
    if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim().startsWith('redis-server')) redisPid = pid;
  } catch {
    // Remote Redis (or no /proc): its own INFO cpu counters instead.
  }
}

/**
 * CPU seconds of every process of the fleet now: the apps (and their forked children), the load generator,
 * redis-server, the Postgres backends of this run's database (autovacuum workers on it included; the bench's
 * own connection, which runs the progress queries, left out) and Postgres' background writer, checkpointer and
 * WAL writer. Backends are listed first (a round trip), then every /proc file is read at once.
 */
async function sampleCpu(apps: Array<{ name: string; pid: number | undefined }>): Promise<CpuSample> {
  const { rows } = await db!.query<{ pid: number; backend_type: string; datname: string | null }>(
    `SELECT pid, backend_type, datname FROM pg_stat_activity
      WHERE (datname = $1 AND pid <> pg_backend_pid()) OR backend_type = ANY($2)`,
    [dbName, PG_BACKGROUND],
  );
  let redisInfo = 0;
  if (redisPid === undefined) {
    const info = await redis.info('cpu');
    const get = (k: string) => Number(info.match(new RegExp(`${k}:([\\d.]+)`))?.[1] ?? 0);
    redisInfo = get('used_cpu_sys') + get('used_cpu_user');
  }
  const procs = new Map<string, ProcReading>();
  const add = (id: string, name: string, stage: ProcReading['stage'], s: number) => {
    // 0: the process is gone (or not started): no reading, so its last one stands.
    if (s > 0) procs.set(id, { name, stage, s });
  };
  for (const a of apps)
    add(
      String(a.pid),
      a.name,
      a.name === 'load generator' ? 'client' : a.name.startsWith('worker') ? 'worker' : (a.name as Stage),
      treeCpuSeconds(a.pid),
    );
  add(
    redisPid === undefined ? 'redis' : String(redisPid),
    'redis-server',
    'redis',
    redisPid === undefined ? redisInfo : cpuSeconds(redisPid),
  );
  for (const r of rows) {
    // An autovacuum worker on this database is its own row: it vacuums what earlier phases left too.
    const name =
      r.datname !== dbName
        ? 'postgres background'
        : r.backend_type === 'autovacuum worker'
          ? 'postgres autovacuum'
          : 'postgres backends';
    add(String(r.pid), name, 'postgres', cpuSeconds(r.pid));
  }
  return { at: Date.now(), procs };
}

/**
 * CPU seconds each table row used over a run of samples: per process, its last reading minus its reading in
 * the first sample (0 for a process that appeared later: a backend connected during the window). A process
 * that exited between samples keeps its last reading (at most one sampling interval is lost).
 */
function cpuOver(samples: CpuSample[]): Map<string, { stage: ProcReading['stage']; s: number }> {
  const byProc = new Map<
    string,
    { name: string; stage: ProcReading['stage']; first: number; last: number }
  >();
  for (const [i, smp] of samples.entries())
    for (const [id, p] of smp.procs) {
      const e = byProc.get(id);
      if (e) e.last = p.s;
      else byProc.set(id, { name: p.name, stage: p.stage, first: i === 0 ? p.s : 0, last: p.s });
    }
  const byName = new Map<string, { stage: ProcReading['stage']; s: number }>();
  for (const p of byProc.values()) {
    const e = byName.get(p.name) ?? { stage: p.stage, s: 0 };
    e.s += Math.max(0, p.last - p.first);
    byName.set(p.name, e);
  }
  return byName;
}

let loadPid: number | undefined;

/** A load generator script in its own process; its per-second progress lines go to `onProgress`. */
async function runLoadScript<T>(
  script: string,
  opts: object,
  onProgress: (line: string) => void,
): Promise<T> {
  const load = spawnScript('load', script, [JSON.stringify(opts)]);
  loadPid = load.pid;
  let seen = 0;
  const timer = setInterval(() => {
    const progress = load.lines.filter((l) => l.includes('acked/s'));
    if (progress.length > seen) onProgress(progress[progress.length - 1]!.replace(/^\[load err\]\s*/, ''));
    seen = progress.length;
  }, 250);
  const code = await load.exited;
  clearInterval(timer);
  const last = load.lines.filter((l) => l.startsWith('[load out] {')).pop();
  if (code !== 0 || !last) throw new Error(`load generator exited ${code}:\n${load.output().slice(-2000)}`);
  return JSON.parse(last.slice('[load out] '.length)) as T;
}

/** runLoad in a process of its own (bench/_gateway-load.ts) against the gateway on `port`. */
function runLoadProcess(
  port: number,
  opts: Pick<LoadOptions, 'connections' | 'window' | 'durationS' | 'topic' | 'ack' | 'rate' | 'rampS'>,
  onProgress: (line: string) => void,
  size = SIZE,
): Promise<LoadResult> {
  return runLoadScript<LoadResult>(
    'bench/_gateway-load.ts',
    { host: '127.0.0.1', port, size, ...opts },
    onProgress,
  );
}

/** Closed loop: CONNECTIONS x WINDOW publishes in flight, as fast as ACKs come back. */
function closedLoop(seconds: number, topic: string, ack: 'stream' | 'durable') {
  return { connections: CONNECTIONS, window: WINDOW, durationS: seconds, topic, ack };
}

/**
 * Fixed rate (open loop) over 4 connections, stream ACKs. The rate ramps up over the warm-up (excluded from
 * the figures): cold processes get warm at low rates instead of starting the measured window with a backlog
 * they have to work off at 80% load.
 */
function openLoop(seconds: number, topic: string, rate: number) {
  return {
    connections: 4,
    window: 4096,
    durationS: seconds,
    topic,
    ack: 'stream' as const,
    rate,
    rampS: WARMUP_S - 1,
  };
}

// ---- A. gateway only ----------------------------------------------------------------------------------
async function gatewayOnly(): Promise<LoadResult> {
  const { path, prefix } = writeConfig('gw', DEFAULT_BATCH);
  const stream = new FleetKeys(prefix, 1).ingestStream(0);
  const [gw] = await startApps(path, ['gateway']);
  // No persister: keep the stream short the way the persister would.
  const trim = setInterval(() => void redis.xtrim(stream, 'MAXLEN', '~', TRIM_ENTRIES).catch(() => {}), 500);
  try {
    return await runLoadProcess(
      portOf(await gw!.waitReady()),
      closedLoop(phase.gatewayS, 'order.e2e.gw', 'stream'),
      (l) => log(`  A gateway only   ${l}`),
    );
  } finally {
    clearInterval(trim);
    await stopApps([gw!]);
    await cleanupRedisPrefix(prefix, redisUrl);
  }
}

// ---- B. persister only --------------------------------------------------------------------------------
function prefill(stream: string, n: number, topic: string): Promise<void> {
  const payload = randomBytes(SIZE);
  return prefillIngestStream(redis, stream, n, (i) => ({
    id: `drain-${tag}-${i}`,
    topic,
    type: 'event',
    priority: 0,
    timestamp: Date.now(),
    headers: {},
    payload,
  }));
}

/** Highest seq in `messages` (an index lookup; a COUNT every 200 ms would load the Postgres being measured). */
async function maxSeq(): Promise<number> {
  const exists = await db!.query<{ t: string | null }>("SELECT to_regclass('messages')::text AS t");
  if (!exists.rows[0]?.t) return 0; // not migrated yet: the persister creates it
  const { rows } = await db!.query<{ n: string }>('SELECT coalesce(max(seq), 0)::text AS n FROM messages');
  return Number(rows[0]!.n);
}

async function persisterOnly(): Promise<{ perS: number; n: number; persisted: number; seconds: number }> {
  const { path, prefix } = writeConfig('drain', DEFAULT_BATCH);
  const stream = new FleetKeys(prefix, 1).ingestStream(0);
  const topic = 'order.e2e.drain';
  // Enough entries for the phase at ~50K/s; the drain is timed from the first row to the last.
  const n = envInt('BENCH_DRAIN_N', Math.min(300_000, phase.drainS * 40_000));
  const t0 = Date.now();
  await prefill(stream, n, topic);
  log(`  B persister only  pre-filled ${fmt(n)} entries in ${round((Date.now() - t0) / 1000)} s`);
  const base = await maxSeq();
  const [persister] = await startApps(path, ['persister']);
  try {
    let first = 0;
    let firstAt = 0;
    let done = 0;
    const deadline = Date.now() + (phase.drainS + 10) * 1000;
    let lastLog = Date.now();
    while (done < n && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      // Phase B is the only writer: rows persisted = seqs handed out since it began.
      done = (await maxSeq()) - base;
      if (done > 0 && firstAt === 0) {
        first = done;
        firstAt = Date.now();
      }
      if (Date.now() - lastLog >= 1000) {
        log(`  B persister only  persisted ${fmt(done)}/${fmt(n)}`);
        lastLog = Date.now();
      }
    }
    const seconds = (Date.now() - firstAt) / 1000;
    return { perS: (done - first) / Math.max(0.001, seconds), n, persisted: done, seconds };
  } finally {
    await stopApps([persister!]);
    await cleanupRedisPrefix(prefix, redisUrl);
  }
}

// ---- C/D. end to end ----------------------------------------------------------------------------------
interface E2eResult {
  batchSize: number;
  /** Payload bytes per message. */
  size: number;
  /** Cores used by each table row (process, or Postgres' backends / background processes) in the measured window. */
  cpu: Array<{ process: string; cores: number }>;
  /** CPU µs per message COMPLETED in the measured window: the fleet (client left out), and each stage. */
  cpuUsPerMsg: number;
  cpuUsByStage: Record<Stage, number>;
  /** Of the postgres stage, Postgres' shared background writer, checkpointer and WAL writer. */
  pgBackgroundUs: number;
  /** Of the postgres stage: autovacuum workers on the run's database (µs per message). */
  pgAutovacuumUs: number;
  /** Offered load: 'saturating' (closed loop, durable ACKs) or a fixed rate in msg/s. */
  mode: 'saturating' | number;
  load: { durationS: number; ackP99Ms?: number };
  completedPerS: number;
  windowS: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  measured: number;
  notCompleted: number;
  timeline: Array<{ s: number; n: number; p99: number }>;
}

async function endToEnd(
  name: string,
  batchSize: number,
  seconds: number,
  rate?: number,
  size = SIZE,
): Promise<E2eResult> {
  const { path, prefix } = writeConfig(name, batchSize);
  const topic = `order.e2e.${name}`;
  const apps = await startApps(path, ['persister', 'gateway', ...Array<'worker'>(WORKERS).fill('worker')]);
  const gwPort = portOf(await apps[1]!.waitReady());
  try {
    const keys = new FleetKeys(prefix, 1);
    // Each shard has its own queue, status stream and ingest stream (keys.ts): the progress line sums them.
    const sumOverShards = async (len: (shard: number) => Promise<number>) =>
      (await Promise.all(keys.shardList().map(len))).reduce((a, b) => a + b, 0);
    let state = '';
    // Progress from Postgres' own table counters (rows inserted / updated since the phase began): a
    // COUNT over the phase's rows every second would cost the fleet's Postgres a tenth of a core. The rows
    // are in the partitions of `messages` (the partitioned parent's own counters stay 0).
    const tableCounts = async () => {
      const { rows } = await db!.query<{ ins: string; upd: string }>(
        `SELECT coalesce(sum(n_tup_ins), 0)::text AS ins, coalesce(sum(n_tup_upd), 0)::text AS upd
         FROM pg_stat_user_tables WHERE relid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = to_regclass('messages'))`,
      );
      return { ins: Number(rows[0]?.ins ?? 0), upd: Number(rows[0]?.upd ?? 0) };
    };
    const base = await tableCounts();
    const poll = setInterval(() => {
      void Promise.all([
        tableCounts(),
        sumOverShards((n) => redis.llen(`${keys.bullPrefix(n)}:messages:wait`)),
        sumOverShards((n) => redis.xlen(keys.statusStream(n))),
        sumOverShards((n) => redis.xlen(keys.ingestStream(n))),
      ]).then(
        ([c, waitingJobs, statusLen, ingestLen]) => {
          state = `| ingest entries ${fmt(ingestLen)}, rows inserted ${fmt(c.ins - base.ins)}, status updates ${fmt(c.upd - base.upd)}, jobs waiting ${waitingJobs}, status entries ${statusLen}`;
        },
        () => {},
      );
    }, 1000);
    let t0 = 0;
    // CPU of every process at each progress line (once a second): who is saturated, and CPU per message.
    const procs = () => [
      ...apps.map((a, i) => ({ name: i < 2 ? a.app : `worker-${i - 1}`, pid: a.pid })),
      { name: 'load generator', pid: loadPid },
    ];
    const samples: CpuSample[] = [];
    let sampling = Promise.resolve();
    const onProgress = (l: string) => {
      // The generators report once a second from their start: the first line dates the start of the load.
      if (t0 === 0) t0 = Date.now() - 1000;
      // Chained: samples stay in order even when a pg_stat_activity query is slow.
      sampling = sampling.then(
        () => sampleCpu(procs()).then((smp) => void samples.push(smp)),
        () => {},
      );
      log(`  ${name} batch ${String(batchSize).padEnd(3)}  ${l}  ${state}`);
    };
    const load: E2eResult['load'] =
      rate === undefined
        ? await runLoadProcess(gwPort, closedLoop(seconds, topic, 'durable'), onProgress, size).then((r) => ({
            durationS: r.durationS,
            ackP99Ms: r.latencyMs.p99,
          }))
        : await runLoadProcess(gwPort, openLoop(seconds, topic, rate), onProgress, size);
    clearInterval(poll);
    await sampling.catch(() => {});
    const t1 = t0 + Math.round(load.durationS * 1000);
    // Wait (bounded) for messages still on their way so slow ones count in the latency.
    const drainDeadline = Date.now() + 30_000;
    let open = 0;
    do {
      const { rows } = await db!.query<{ n: string }>(
        "SELECT count(*)::text AS n FROM messages WHERE topic = $1 AND status <> 'COMPLETED'",
        [topic],
      );
      open = Number(rows[0]!.n);
      if (open > 0) await new Promise((r) => setTimeout(r, 500));
    } while (open > 0 && Date.now() < drainDeadline);
    const endAt = Date.now();

    const from = t0 + WARMUP_S * 1000;
    const windowS = (t1 - from) / 1000;
    const completed = await db!.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM messages WHERE topic = $1 AND status = 'COMPLETED'
         AND updated_at >= to_timestamp($2::double precision / 1000) AND updated_at < to_timestamp($3::double precision / 1000)`,
      [topic, from, t1],
    );
    if (process.env.BENCH_SPLIT) {
      // Where latency goes: sent -> row inserted (gateway, stream, persister) and inserted -> COMPLETED.
      const split = await db!.query(
        `SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM created_at - sent_at) * 1000) AS ingest,
                percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - created_at) * 1000) AS process
           FROM messages WHERE topic = $1 AND sent_at >= to_timestamp($2::double precision / 1000)`,
        [topic, t0 + WARMUP_S * 1000],
      );
      log(
        `  ${name} latency split (p50, p99 ms): ingest ${split.rows[0].ingest}, processing ${split.rows[0].process}`,
      );
    }
    // Latency of every message sent in the window, bucketed to whole ms in SQL (small result), into HDR. One
    // not COMPLETED by the end of the drain counts up to endAt: a lower bound, never left out.
    const lat = await db!.query<{ ms: string; n: string }>(
      `SELECT greatest(0, round(extract(epoch FROM
                (CASE WHEN status = 'COMPLETED' THEN updated_at ELSE to_timestamp($4::double precision / 1000) END)
                - sent_at) * 1000))::bigint::text AS ms, count(*)::text AS n
         FROM messages WHERE topic = $1
          AND sent_at >= to_timestamp($2::double precision / 1000) AND sent_at < to_timestamp($3::double precision / 1000)
        GROUP BY 1`,
      [topic, from, t1, endAt],
    );
    const h = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 3_600_000,
      numberOfSignificantValueDigits: 3,
    });
    let measured = 0;
    for (const r of lat.rows) {
      h.recordValueWithCount(Math.max(1, Number(r.ms)), Number(r.n));
      measured += Number(r.n);
    }
    const timeline = await db!.query<{ s: string; n: string; p99: string }>(
      `SELECT floor(extract(epoch FROM updated_at) - $2::double precision / 1000)::int::text AS s, count(*)::text AS n,
              (percentile_disc(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - sent_at) * 1000))::text AS p99
         FROM messages WHERE topic = $1 AND status = 'COMPLETED' GROUP BY 1 ORDER BY 1`,
      [topic, t0],
    );
    // CPU over the samples after the warm-up (all of them when the phase is too short for two), divided by
    // the rows that became COMPLETED between the first and the last of them.
    const warm = samples.filter((smp) => smp.at >= from);
    const span = warm.length >= 2 ? warm : samples;
    const cpu: Array<{ process: string; cores: number }> = [];
    const cpuUsByStage = Object.fromEntries(STAGES.map((st) => [st, 0])) as Record<Stage, number>;
    let cpuUsPerMsg = 0;
    let pgBackgroundUs = 0;
    let pgAutovacuumUs = 0;
    if (span.length >= 2) {
      const [a, b] = [span[0]!, span[span.length - 1]!];
      const spanS = (b.at - a.at) / 1000;
      const inSpan = await db!.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM messages WHERE topic = $1 AND status = 'COMPLETED'
           AND updated_at >= to_timestamp($2::double precision / 1000) AND updated_at < to_timestamp($3::double precision / 1000)`,
        [topic, a.at, b.at],
      );
      const msgs = Math.max(1, Number(inSpan.rows[0]!.n));
      const used = cpuOver(span);
      const order = [
        ...procs().map((p) => p.name),
        'redis-server',
        'postgres backends',
        'postgres autovacuum',
        'postgres background',
      ];
      for (const proc of order) {
        const u = used.get(proc);
        if (!u) continue;
        cpu.push({ process: proc, cores: round(u.s / spanS, 2) });
        if (u.stage !== 'client') cpuUsByStage[u.stage] += (u.s * 1e6) / msgs;
        if (proc === 'postgres background') pgBackgroundUs = round((u.s * 1e6) / msgs);
        if (proc === 'postgres autovacuum') pgAutovacuumUs = round((u.s * 1e6) / msgs);
      }
      for (const st of STAGES) cpuUsByStage[st] = round(cpuUsByStage[st]);
      cpuUsPerMsg = round(STAGES.reduce((sum, st) => sum + cpuUsByStage[st], 0));
    }
    const result: E2eResult = {
      batchSize,
      size,
      cpuUsPerMsg,
      cpuUsByStage,
      pgBackgroundUs,
      pgAutovacuumUs,
      mode: rate ?? 'saturating',
      cpu,
      load,
      completedPerS: Number(completed.rows[0]!.n) / windowS,
      windowS,
      p50: h.getValueAtPercentile(50),
      p95: h.getValueAtPercentile(95),
      p99: h.getValueAtPercentile(99),
      max: h.maxValue,
      measured,
      notCompleted: open,
      // Numeric order (the SQL sorted the text casts); seconds before the estimated start are dropped.
      timeline: timeline.rows
        .map((r) => ({ s: Number(r.s), n: Number(r.n), p99: round(Number(r.p99)) }))
        .filter((r) => r.s >= 0)
        .sort((a, b) => a.s - b.s),
    };
    h.destroy();
    return result;
  } finally {
    await stopApps(apps);
    await cleanupRedisPrefix(prefix, redisUrl);
  }
}

// ---- run ----------------------------------------------------------------------------------------------

/** BENCH_ONLY: one phase and its figures, for iterating on the pipeline (no plot, no JSON line). */
async function onePhase(only: string): Promise<void> {
  if (only === 'B') {
    const b = await persisterOnly();
    console.log(`B: ${fmt(b.perS)} msg/s (${fmt(b.persisted)}/${fmt(b.n)} in ${round(b.seconds)} s)`);
  } else if (only === 'E') {
    const r = await endToEnd(`r${DEFAULT_BATCH}`, DEFAULT_BATCH, phase.rateS, envInt('BENCH_RATE', 10_000));
    console.log(
      `E: ${fmt(r.completedPerS)} msg/s, p50 ${round(r.p50, 0)} ms, p99 ${round(r.p99, 0)} ms, ${r.notCompleted} not completed`,
    );
    console.log(r.timeline.map((t) => `${t.s}s ${t.n}/s p99 ${t.p99}`).join('\n'));
    console.table(r.cpu);
    printStageTable([[`E batch ${DEFAULT_BATCH}, ${fmt(Number(r.mode))}/s`, r]]);
  } else if (only === 'D') {
    const d = await endToEnd(`b${DEFAULT_BATCH}`, DEFAULT_BATCH, phase.defaultS);
    console.log(
      `D: ${fmt(d.completedPerS)} msg/s, p50 ${round(d.p50, 0)} ms, p99 ${round(d.p99, 0)} ms, ${d.notCompleted} not completed`,
    );
    console.table(d.cpu);
    printStageTable([[`D batch ${DEFAULT_BATCH}, ${SIZE} B`, d]]);
  } else if (only === 'S') {
    const runs = await sizePhases();
    for (const r of runs)
      console.log(
        `${sizeKey(r.size)}: ${fmt(r.completedPerS)} msg/s (${round((r.completedPerS * r.size) / 1e6)} MB/s), p99 ${round(r.p99, 0)} ms, ${r.notCompleted} not completed`,
      );
    printStageTable(runs.map((r) => [`${sizeKey(r.size)} payloads`, r] as [string, E2eResult]));
  } else throw new Error(`BENCH_ONLY must be B, D, E or S, got "${only}"`);
}

/** D's saturated durable closed loop again at each of SIZES (payload bytes). */
async function sizePhases(): Promise<E2eResult[]> {
  const runs: E2eResult[] = [];
  for (const size of SIZES)
    runs.push(await endToEnd(`s${sizeKey(size)}`, DEFAULT_BATCH, phase.sizeS, undefined, size));
  return runs;
}

/** CPU µs per COMPLETED message, stage by stage, one column per phase. */
function printStageTable(cols: Array<[string, E2eResult]>): void {
  console.log(
    '\nCPU per message, stage by stage (µs of CPU per message COMPLETED, after the warm-up; the load generator left out;\n' +
      'postgres = backends of this database (its autovacuum workers included) + background writer, checkpointer, WAL writer,\n' +
      'which serve the whole server):',
  );
  const rows: Array<Record<string, string | number>> = STAGES.map((st) => ({
    stage: st,
    ...Object.fromEntries(cols.map(([label, r]) => [label, r.cpuUsByStage[st]])),
  }));
  rows.push({
    stage: '  of postgres: background',
    ...Object.fromEntries(cols.map(([label, r]) => [label, r.pgBackgroundUs])),
  });
  rows.push({
    stage: '  of postgres: autovacuum',
    ...Object.fromEntries(cols.map(([label, r]) => [label, r.pgAutovacuumUs])),
  });
  rows.push({ stage: 'all', ...Object.fromEntries(cols.map(([label, r]) => [label, r.cpuUsPerMsg])) });
  console.table(rows);
}

/** Every phase, the tables, the plot and the JSON line. */
async function allPhases(): Promise<void> {
  const gw = await gatewayOnly();
  const drain = await persisterOnly();
  const b1 = await endToEnd('b1', 1, phase.batch1S);
  const bd = await endToEnd(`b${DEFAULT_BATCH}`, DEFAULT_BATCH, phase.defaultS);
  const rate = Math.max(500, Math.round((bd.completedPerS * RATE_SHARE) / 100) * 100);
  const br = await endToEnd(`r${DEFAULT_BATCH}`, DEFAULT_BATCH, phase.rateS, rate);
  const sized = await sizePhases();

  const ms = (v: number) => round(v, 0);
  console.log(`\n${machine().text}`);
  console.log(
    'All on one box: Redis, Postgres, gateway, persister, worker(s) and the load generator share the cores.\n' +
      `A and C/D: ${CONNECTIONS} connections x ${WINDOW} publishes in flight (closed loop; C/D with durable ACKs).\n` +
      `E: a fixed ${fmt(rate)} msg/s (${Math.round(RATE_SHARE * 100)}% of D) (open loop, 4 connections): latency when the fleet keeps up.\n`,
  );
  const e2eRow = (label: string, r: E2eResult) => ({
    case: label,
    'msg/s': fmt(r.completedPerS),
    'ratio to A': (r.completedPerS / gw.ackedPerS).toFixed(2),
    p50_ms: ms(r.p50),
    p95_ms: ms(r.p95),
    p99_ms: ms(r.p99),
    note:
      (r.load.ackP99Ms !== undefined ? `durable ACK p99 ${r.load.ackP99Ms} ms; ` : '') +
      `${fmt(r.measured)} measured, ${r.notCompleted} not completed`,
  });
  console.table([
    {
      case: 'A gateway only: stream ACKs, nothing drains',
      'msg/s': fmt(gw.ackedPerS),
      'ratio to A': '1.00',
      p50_ms: gw.latencyMs.p50,
      p95_ms: '-',
      p99_ms: gw.latencyMs.p99,
      note: 'ACK latency',
    },
    {
      case: 'B persister only: drain of a pre-filled stream',
      'msg/s': fmt(drain.perS),
      'ratio to A': (drain.perS / gw.ackedPerS).toFixed(2),
      p50_ms: '-',
      p95_ms: '-',
      p99_ms: '-',
      note: `${fmt(drain.persisted)}/${fmt(drain.n)} in ${round(drain.seconds)} s`,
    },
    e2eRow('C end to end, batch_size 1, saturating', b1),
    e2eRow(`D end to end, batch_size ${DEFAULT_BATCH}, saturating`, bd),
    e2eRow(`E end to end, batch_size ${DEFAULT_BATCH}, ${fmt(rate)} msg/s fixed`, br),
    ...sized.map((r) => ({
      ...e2eRow(`S end to end, batch_size ${DEFAULT_BATCH}, saturating, ${fmt(r.size)} B`, r),
      note: `${round((r.completedPerS * r.size) / 1e6)} MB/s of payload; ${e2eRow('', r).note}`,
    })),
  ]);
  // The stage that sets the pace: CPU per stage in D (workers summed), beside the single-stage figures.
  const stages = new Map<string, number>();
  for (const c of bd.cpu) {
    const stage = c.process.startsWith('worker-') ? `workers (${WORKERS})` : c.process;
    stages.set(stage, round((stages.get(stage) ?? 0) + c.cores, 2));
  }
  const total = round(
    [...stages.values()].reduce((x, y) => x + y, 0),
    2,
  );
  const [busiest, busiestCores] = [...stages.entries()].sort((x, y) => y[1] - x[1])[0]!;
  console.log(
    `bottleneck: end to end (D) reaches ${Math.round((100 * bd.completedPerS) / Math.min(gw.ackedPerS, drain.perS))}% of ` +
      `the slower single stage (${gw.ackedPerS < drain.perS ? 'gateway' : 'persister'}). In D the fleet used ${total} ` +
      `of ${os.cpus().length} cores; the costliest stage was ${busiest} (${busiestCores} cores, ` +
      `${Math.round((busiestCores * 1e6) / Math.max(1, bd.completedPerS))} µs CPU per message). Saturated latency (C/D) ` +
      'is queueing in the backlog of the slowest stage; E shows the latency below saturation.',
  );
  console.log(
    `\nCPU used after the warm-up (cores; the machine has ${os.cpus().length}; redis-server and Postgres' background processes also serve whatever else uses them):`,
  );
  const coresOf = (r: E2eResult, proc: string) => r.cpu.find((c) => c.process === proc)?.cores ?? '-';
  // Every process of any phase (an autovacuum worker may be at work in one phase only).
  const processes = [...new Set([bd, b1, br, ...sized].flatMap((r) => r.cpu.map((c) => c.process)))];
  console.table(
    processes.map((proc) => ({
      process: proc,
      'C batch 1': coresOf(b1, proc),
      [`D batch ${DEFAULT_BATCH}`]: coresOf(bd, proc),
      [`E ${fmt(rate)}/s`]: coresOf(br, proc),
      ...Object.fromEntries(sized.map((r) => [`S ${sizeKey(r.size)}`, coresOf(r, proc)])),
    })),
  );
  printStageTable([
    ['C batch 1', b1],
    [`D ${SIZE} B`, bd],
    [`E ${fmt(rate)}/s`, br],
    ...sized.map((r) => [`S ${sizeKey(r.size)}`, r] as [string, E2eResult]),
  ]);

  const line = (
    r: E2eResult,
    name: string,
    color: string,
    pick: (t: E2eResult['timeline'][number]) => number,
  ) => ({
    name,
    color,
    points: r.timeline.map((t) => [t.s, pick(t)] as [number, number]),
  });
  const dName = `D batch ${DEFAULT_BATCH} saturating`;
  const eName = `E batch ${DEFAULT_BATCH} ${fmt(rate)}/s`;
  const cName = 'C batch 1 saturating';
  const svg = lineChartSvg({
    title: `Fleet end to end on ${os.cpus().length} cores: publish -> COMPLETED in Postgres`,
    xLabel: 'seconds since the load started',
    panels: [
      {
        title: 'messages reaching COMPLETED per second',
        yLabel: 'msg/s',
        series: [
          line(bd, dName, '#1f77b4', (t) => t.n),
          line(br, eName, '#2ca02c', (t) => t.n),
          line(b1, cName, '#d62728', (t) => t.n),
        ],
      },
      {
        title: `p99 latency, envelope timestamp -> COMPLETED, at a fixed ${fmt(rate)} msg/s (per second)`,
        yLabel: 'ms',
        series: [line(br, eName, '#2ca02c', (t) => t.p99)],
      },
      {
        title: 'p99 latency when saturated (closed loop): queueing in the slowest stage',
        yLabel: 'ms',
        series: [line(bd, dName, '#1f77b4', (t) => t.p99), line(b1, cName, '#d62728', (t) => t.p99)],
      },
    ],
  });
  const svgPath = fileURLToPath(new URL('../docs/bench-e2e.svg', import.meta.url));
  writeFileSync(svgPath, svg);
  log('plot written to docs/bench-e2e.svg');

  console.log(
    JSON.stringify({
      bench: 'e2e',
      msgs_per_s: Math.round(bd.completedPerS),
      p50_ms: ms(br.p50),
      p95_ms: ms(br.p95),
      p99_ms: ms(br.p99),
      batch_size: DEFAULT_BATCH,
      latency_at_msgs_per_s: rate,
      saturated_p50_ms: ms(bd.p50),
      saturated_p99_ms: ms(bd.p99),
      batch1_msgs_per_s: Math.round(b1.completedPerS),
      batch1_p50_ms: ms(b1.p50),
      batch1_p99_ms: ms(b1.p99),
      not_completed: [b1, bd, br, ...sized].reduce((n, r) => n + r.notCompleted, 0),
      cpu_us_per_msg: bd.cpuUsPerMsg,
      cpu_us_per_msg_by_stage: bd.cpuUsByStage,
      cpu_us_per_msg_pg_background: bd.pgBackgroundUs,
      cpu_us_per_msg_pg_autovacuum: bd.pgAutovacuumUs,
      ...Object.fromEntries(
        sized.flatMap((r) => [
          [`msgs_per_s_${sizeKey(r.size)}`, Math.round(r.completedPerS)],
          [`mb_per_s_${sizeKey(r.size)}`, round((r.completedPerS * r.size) / 1e6)],
          [`p99_ms_${sizeKey(r.size)}`, ms(r.p99)],
          [`cpu_us_per_msg_${sizeKey(r.size)}`, r.cpuUsPerMsg],
          [`cpu_us_per_msg_by_stage_${sizeKey(r.size)}`, r.cpuUsByStage],
          [`cpu_us_per_msg_pg_autovacuum_${sizeKey(r.size)}`, r.pgAutovacuumUs],
        ]),
      ),
      gateway_only_per_s: Math.round(gw.ackedPerS),
      persister_only_per_s: Math.round(drain.perS),
      workers: WORKERS,
      payload_bytes: SIZE,
      load_average: os.loadavg().map((l) => round(l, 2)),
      machine: machine().json,
    }),
  );
}

let exitCode = 0;
try {
  log(
    `e2e bench: ${machine().text}; processes: 1 gateway, 1 persister, ${WORKERS} worker(s), load generator; ` +
      `${SIZE}-byte payloads; handlers ${process.env.BENCH_HANDLERS === 'noop' ? 'no-op' : 'examples/handlers'}; phases A ${phase.gatewayS}s, B <=${phase.drainS}s, C ${phase.batch1S}s, ` +
      `D ${phase.defaultS}s, E ${phase.rateS}s, S ${SIZES.map((b) => `${b} B`).join(' and ') || 'none'} ${phase.sizeS}s each`,
  );
  if (!FROM_SOURCE) for (const app of ['gateway', 'persister', 'worker'] as const) buildAppBundle(app);
  dbUrl = await createDatabase(server, dbName);
  db = new pg.Client({ connectionString: dbUrl });
  await db.connect();
  await findRedisPid();

  if (process.env.BENCH_ONLY) await onePhase(process.env.BENCH_ONLY);
  else await allPhases();
} catch (err) {
  log(`e2e bench failed: ${(err as Error).message}`);
  exitCode = 1;
} finally {
  killAllApps();
  await db?.end().catch(() => {});
  for (const p of prefixes) await cleanupRedisPrefix(p, redisUrl).catch(() => 0);
  redis.disconnect();
  if (dbUrl)
    await dropDatabase(server, dbName).catch((e: Error) => log(`could not drop ${dbName}: ${e.message}`));
  rmSync(dir, { recursive: true, force: true });
}
process.exit(exitCode);
