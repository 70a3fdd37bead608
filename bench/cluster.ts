/**
 * Redis Cluster: the e2e durable path (publish -> COMPLETED) on a private 3-master Redis Cluster beside a private standalone redis-server, same run, and each master's share of the commands.
 *
 * Two phases, each a fleet of its own (1 gateway, 1 persister, BENCH_WORKERS workers, started as production
 * starts them: the bundles this run builds first, BENCH_SOURCE=1 the TypeScript sources), the same config
 * but for redis (streams.shards 8, default batch_size), its own database on the local Postgres server
 * (FLEET_BENCH_POSTGRES_URL) and its own key prefix:
 *   S. standalone: redis.mode standalone on a private redis-server (no AOF, no replica);
 *   C. cluster: redis.mode cluster on a private Redis Cluster of 3 masters with BENCH_REPLICAS replicas each
 *      (default 1, as the e2e cluster test and a production cluster run it; no AOF).
 * Load: a closed loop of durable publishes from a load generator process of its own (this file with
 * `--load`): one connection per shard, each with BENCH_WINDOW (200) publishes in flight on a topic of
 * that shard, so every shard (and every master) gets its share. msg/s = rows that became COMPLETED in
 * the measured window (after a 5 s warm-up) per second. Per master: commands processed in the window
 * (INFO stats total_commands_processed) and its share of all masters' commands; Redis CPU per message.
 * On one 2-core box the cluster cannot be faster (six redis-servers share the cores with the fleet):
 * the ratio is the overhead. BENCH_ORDER=SCCS runs S C C S and reports the means (default SC).
 * Env: BENCH_DURATION_S (default 60: load time, split over the phases; start-up comes on top),
 * BENCH_WORKERS (1), BENCH_WINDOW (200), BENCH_SIZE (100), BENCH_REPLICAS (1), BENCH_ORDER, BENCH_SOURCE.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { type LoadResult, runLoad } from '@fleet/client';
import { FleetKeys } from '@fleet/protocol';
import {
  appNodeOptions,
  createDatabase,
  dropDatabase,
  LOCAL_POSTGRES_URL,
  type PrivateRedis,
  type PrivateRedisCluster,
  startPrivateRedis,
  startPrivateRedisCluster,
} from '@fleet/services';
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
import { machine } from './lib/machine.js';
import { cpuSeconds } from './lib/proc-cpu.js';

const SHARDS = 8;
const WARMUP_S = 5;

// ---- load generator mode: `bench/cluster.ts --load '<json>'` -------------------------------------------
interface LoadArgs {
  port: number;
  topics: string[];
  window: number;
  size: number;
  durationS: number;
}

if (process.argv[2] === '--load') {
  const a = JSON.parse(process.argv[3] ?? '{}') as LoadArgs;
  const acked = new Array<number>(a.topics.length).fill(0);
  const results = await Promise.all(
    a.topics.map((topic, i) =>
      runLoad({
        host: '127.0.0.1',
        port: a.port,
        connections: 1,
        window: a.window,
        size: a.size,
        durationS: a.durationS,
        topic,
        ack: 'durable',
        onProgress: (p) => {
          acked[i] = p.ackedPerS;
          // One line a second for all topics (the first topic's tick).
          if (i === 0)
            process.stderr.write(
              `t=${p.elapsedS.toFixed(0)}s  ${Math.round(acked.reduce((x, y) => x + y, 0)).toLocaleString('en-US')} acked/s\n`,
            );
        },
      }),
    ),
  );
  const sum = (f: (r: LoadResult) => number) => results.reduce((n, r) => n + f(r), 0);
  process.stdout.write(
    `${JSON.stringify({
      durationS: Math.max(...results.map((r) => r.durationS)),
      acked: sum((r) => r.acked),
      errors: sum((r) => r.errors),
      ackP50Ms: results.map((r) => r.latencyMs.p50).sort((x, y) => x - y)[results.length >> 1],
      ackP99Ms: Math.max(...results.map((r) => r.latencyMs.p99)),
    })}\n`,
  );
  process.exit(0);
}

// ---- the bench ----------------------------------------------------------------------------------------
function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const envInt = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const durationS = Number(argValue('--duration-s') ?? process.env.BENCH_DURATION_S ?? 60);
const WORKERS = envInt('BENCH_WORKERS', 1);
const WINDOW = envInt('BENCH_WINDOW', 200);
const SIZE = envInt('BENCH_SIZE', 100);
const REPLICAS = envInt('BENCH_REPLICAS', 1);
const ORDER = (process.env.BENCH_ORDER ?? 'SC').toUpperCase();
if (!/^[SC]+$/.test(ORDER) || !ORDER.includes('S') || !ORDER.includes('C'))
  throw new Error(`BENCH_ORDER must be made of S and C, both, got "${ORDER}"`);
const FROM_SOURCE = !!process.env.BENCH_SOURCE;
const phaseS = Math.max(WARMUP_S + 5, Math.round(durationS / ORDER.length));

const server = process.env.FLEET_BENCH_POSTGRES_URL ?? LOCAL_POSTGRES_URL;
const tag = randomBytes(3).toString('hex');
const dir = mkdtempSync(join(os.tmpdir(), `fleet-bench-cluster-${tag}-`));
const databases: string[] = [];
const log = (line: string) => process.stderr.write(`${line}\n`);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** Topics of the load: one per shard (the gateway's shardOf does not depend on the prefix). */
function topicPerShard(): string[] {
  const keys = new FleetKeys('x', SHARDS);
  const out = new Map<number, string>();
  for (let i = 0; out.size < SHARDS; i++) {
    const s = keys.shardOf(`order.bench.${i}`);
    if (!out.has(s)) out.set(s, `order.bench.${i}`);
  }
  return [...out.values()];
}

/** Per node: commands processed and CPU seconds so far (INFO), with its role. */
interface NodeSample {
  port: number;
  role: string;
  commands: number;
  cpu: number;
}
const infoConns = new Map<number, Redis>();
async function sampleNodes(ports: number[]): Promise<NodeSample[]> {
  return Promise.all(
    ports.map(async (port) => {
      let r = infoConns.get(port);
      if (!r) {
        r = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
        r.on('error', () => {});
        infoConns.set(port, r);
      }
      const info = await r.info();
      const get = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
      return {
        port,
        role: /^role:(\w+)/m.exec(info)?.[1] ?? '?',
        commands: get('total_commands_processed'),
        cpu: get('used_cpu_sys') + get('used_cpu_user'),
      };
    }),
  );
}

interface PhaseResult {
  name: 'S' | 'C';
  completedPerS: number;
  windowS: number;
  acked: number;
  errors: number;
  ackP50Ms: number;
  ackP99Ms: number;
  /** Cores of all redis-servers (masters and replicas) and of the fleet's processes, over the window. */
  redisCores: number;
  appCores: number;
  /** Per master in the window: commands and cores (standalone: the one server). */
  masters: Array<{ port: number; shards: string; commands: number; cores: number }>;
  replicaCores: number;
}

async function phase(
  name: 'S' | 'C',
  redis: { url: string; mode: 'standalone' | 'cluster'; nodes: string[]; ports: number[] },
  n: number,
): Promise<PhaseResult> {
  const label = name === 'S' ? 'S standalone' : `C cluster   `;
  const dbName = `fleet_bench_cluster_${tag}_${name.toLowerCase()}${n}`;
  const dbUrl = await createDatabase(server, dbName);
  databases.push(dbName);
  const prefix = `fleet-bench-cluster-${tag}-${name}${n}`;
  const path = join(dir, `${name}${n}.yaml`);
  writeFileSync(
    path,
    stringify({
      messaging_system: {
        network: { host: '127.0.0.1', port: 0, max_in_flight: 4096 },
        redis: { url: redis.url, mode: redis.mode, nodes: redis.nodes, key_prefix: prefix },
        database: { connection_string: dbUrl, pool: { max_connections: 8 } },
        logging: { level: 'info', writers: [{ type: 'console' }] },
        thread_pools: { work: { workers: 32, queue_size: 10_000 } },
        streams: { shards: SHARDS, read_count: 2000, block_ms: 50 },
        tracing: { exporter: 'none' },
        ops: { host: '127.0.0.1', port: 0, gateway_metrics_port: 0, worker_metrics_port: 0 },
        handlers: { modules: [join(REPO_ROOT, 'examples/handlers/index.ts')] },
      },
    }),
  );
  const env = { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS ?? appNodeOptions() };
  const which = ['persister', 'gateway', ...Array<'worker'>(WORKERS).fill('worker')] as const;
  const apps: AppProcess[] = which.map((app) =>
    FROM_SOURCE ? spawnApp(app, { config: path, env }) : spawnAppBundle(app, { config: path, env }),
  );
  const db = new pg.Client({ connectionString: dbUrl });
  try {
    await Promise.all(
      apps.map((a) =>
        a.waitReady(90_000).catch((err: Error) => {
          throw new Error(`${a.app} did not start: ${err.message}`);
        }),
      ),
    );
    const port = Number(/"port":(\d+)/.exec(await apps[1]!.waitReady())?.[1]);
    await db.connect();
    const keys = new FleetKeys(prefix, SHARDS);

    // Which master serves which shards (CLUSTER KEYSLOT + CLUSTER SLOTS from the first node).
    const shardsOf = new Map<number, number[]>();
    if (redis.mode === 'cluster') {
      const seed = infoConns.get(redis.ports[0]!) ?? new Redis({ host: '127.0.0.1', port: redis.ports[0]! });
      infoConns.set(redis.ports[0]!, seed);
      const slots = (await seed.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
      for (const s of keys.shardList()) {
        const slot = Number(await seed.call('CLUSTER', 'KEYSLOT', keys.ingestStream(s)));
        const owner = slots.find(([a, b]) => slot >= a && slot <= b)?.[2][1];
        if (owner !== undefined) shardsOf.set(owner, [...(shardsOf.get(owner) ?? []), s]);
      }
    } else shardsOf.set(redis.ports[0]!, keys.shardList());

    let t0 = 0;
    let first: { at: number; nodes: NodeSample[]; apps: number[] } | undefined;
    let last: typeof first;
    const sample = async () => ({
      at: Date.now(),
      nodes: await sampleNodes(redis.ports),
      apps: apps.map((a) => cpuSeconds(a.pid)),
    });
    let prev: Awaited<ReturnType<typeof sample>> | undefined;
    const load = spawnScript('load', 'bench/cluster.ts', [
      '--load',
      JSON.stringify({ port, topics: topicPerShard(), window: WINDOW, size: SIZE, durationS: phaseS }),
    ]);
    let seen = 0;
    const timer = setInterval(() => {
      const lines = load.lines.filter((l) => l.includes('acked/s'));
      if (lines.length === seen) return;
      seen = lines.length;
      if (t0 === 0) t0 = Date.now() - 1000;
      const line = lines.at(-1)!.replace(/^\[load err\]\s*/, '');
      void sample().then((s) => {
        const elapsed = (Date.now() - t0) / 1000;
        if (elapsed >= WARMUP_S && !first) first = s;
        if (first) last = s;
        let perMaster = '';
        if (prev) {
          const dt = (s.at - prev.at) / 1000;
          perMaster = s.nodes
            .filter((x) => x.role === 'master')
            .map((x) => {
              const p = prev!.nodes.find((y) => y.port === x.port)!;
              return `${x.port}: ${fmt((x.commands - p.commands) / dt)} cmd/s`;
            })
            .join(', ');
        }
        prev = s;
        log(`  ${label}  ${line}  | ${perMaster}`);
      });
    }, 250);
    const code = await load.exited;
    clearInterval(timer);
    const out = load.lines.filter((l) => l.startsWith('[load out] {')).pop();
    if (code !== 0 || !out) throw new Error(`load generator exited ${code}:\n${load.output().slice(-2000)}`);
    const result = JSON.parse(out.slice('[load out] '.length)) as {
      durationS: number;
      acked: number;
      errors: number;
      ackP50Ms: number;
      ackP99Ms: number;
    };
    if (!first || !last || last.at <= first.at)
      throw new Error(`${label}: no samples in the measured window`);
    const from = first.at;
    const to = last.at;
    const windowS = (to - from) / 1000;
    const { rows } = await db.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM messages WHERE status = 'COMPLETED'
         AND updated_at >= to_timestamp($1::double precision / 1000) AND updated_at < to_timestamp($2::double precision / 1000)`,
      [from, to],
    );
    const cores = (a: number, b: number) => (b - a) / windowS;
    const nodeDelta = last.nodes.map((x) => {
      const f = first!.nodes.find((y) => y.port === x.port)!;
      return { port: x.port, role: x.role, commands: x.commands - f.commands, cores: cores(f.cpu, x.cpu) };
    });
    return {
      name,
      completedPerS: Number(rows[0]!.n) / windowS,
      windowS,
      acked: result.acked,
      errors: result.errors,
      ackP50Ms: result.ackP50Ms,
      ackP99Ms: result.ackP99Ms,
      redisCores: nodeDelta.reduce((s, x) => s + x.cores, 0),
      appCores: last.apps.reduce((s, c, i) => s + cores(first!.apps[i]!, c), 0),
      masters: nodeDelta
        .filter((x) => x.role === 'master')
        .map((x) => ({
          port: x.port,
          shards: (shardsOf.get(x.port) ?? []).join(','),
          commands: x.commands,
          cores: x.cores,
        })),
      replicaCores: nodeDelta.filter((x) => x.role !== 'master').reduce((s, x) => s + x.cores, 0),
    };
  } finally {
    await db.end().catch(() => {});
    await Promise.all(apps.map((a) => a.stop(10_000)));
  }
}

let standalone: PrivateRedis | undefined;
let cluster: PrivateRedisCluster | undefined;
let exitCode = 0;
try {
  log(
    `cluster bench: ${machine().text}; per phase 1 gateway, 1 persister, ${WORKERS} worker(s), load generator; ` +
      `${SHARDS} shards, ${SHARDS} connections x ${WINDOW} durable publishes of ${SIZE} bytes; phases ${ORDER.split('').join(' ')} of ${phaseS} s ` +
      `(first ${WARMUP_S} s not measured); cluster: 3 masters, ${REPLICAS} replica(s) each`,
  );
  if (!FROM_SOURCE) for (const app of ['gateway', 'persister', 'worker'] as const) buildAppBundle(app);
  standalone = await startPrivateRedis();
  cluster = await startPrivateRedisCluster({ masters: 3, replicas: REPLICAS });
  const clusterPorts = cluster.nodes.map((x) => x.port);
  const results: PhaseResult[] = [];
  for (const [i, name] of ([...ORDER] as Array<'S' | 'C'>).entries()) {
    const r =
      name === 'S'
        ? await phase(
            name,
            { url: standalone.url, mode: 'standalone', nodes: [], ports: [standalone.port] },
            i,
          )
        : await phase(
            name,
            { url: cluster.urls[0]!, mode: 'cluster', nodes: cluster.urls, ports: clusterPorts },
            i,
          );
    log(`  ${name === 'S' ? 'S standalone' : 'C cluster   '}  ${fmt(r.completedPerS)} msg/s COMPLETED`);
    results.push(r);
  }
  const mean = (name: 'S' | 'C', f: (r: PhaseResult) => number) => {
    const rs = results.filter((r) => r.name === name);
    return rs.reduce((s, r) => s + f(r), 0) / rs.length;
  };
  const sPerS = mean('S', (r) => r.completedPerS);
  const cPerS = mean('C', (r) => r.completedPerS);
  const us = (coresV: number, perS: number) => Math.round((coresV * 1e6) / Math.max(1, perS));

  console.log(`\n${machine().text}`);
  console.log(
    'All on one box: the redis-servers, Postgres, the fleet and the load generator share the cores.\n' +
      `Both: ${SHARDS} shards, ${SHARDS} connections x ${WINDOW} durable publishes in flight (closed loop), ${WORKERS} worker(s).\n`,
  );
  const row = (label: string, name: 'S' | 'C') => ({
    case: label,
    'msg/s': fmt(mean(name, (r) => r.completedPerS)),
    'ratio to S': (mean(name, (r) => r.completedPerS) / sPerS).toFixed(2),
    'ack p50 ms': round(mean(name, (r) => r.ackP50Ms)),
    'ack p99 ms': round(mean(name, (r) => r.ackP99Ms)),
    'redis cores': round(
      mean(name, (r) => r.redisCores),
      2,
    ),
    'redis µs/msg': us(
      mean(name, (r) => r.redisCores),
      mean(name, (r) => r.completedPerS),
    ),
    'fleet cores': round(
      mean(name, (r) => r.appCores),
      2,
    ),
    errors: results.filter((r) => r.name === name).reduce((s, r) => s + r.errors, 0),
  });
  console.table([
    row('S standalone redis-server (baseline)', 'S'),
    row(`C Redis Cluster, 3 masters x ${REPLICAS} replica(s)`, 'C'),
  ]);
  // Per master over the cluster phases (summed when there are two).
  const perMaster = new Map<number, { shards: string; commands: number; cores: number }>();
  const cRuns = results.filter((r) => r.name === 'C');
  for (const r of cRuns)
    for (const m of r.masters) {
      const cur = perMaster.get(m.port) ?? { shards: m.shards, commands: 0, cores: 0 };
      perMaster.set(m.port, {
        shards: cur.shards,
        commands: cur.commands + m.commands,
        cores: cur.cores + m.cores,
      });
    }
  const totalCommands = [...perMaster.values()].reduce((s, m) => s + m.commands, 0);
  const maxShare = Math.max(...[...perMaster.values()].map((m) => m.commands / Math.max(1, totalCommands)));
  console.log('Masters in the cluster phase(s) (commands in the measured window; share of all masters):');
  console.table(
    [...perMaster].map(([port, m]) => ({
      master: port,
      shards: m.shards,
      commands: fmt(m.commands),
      share: (m.commands / Math.max(1, totalCommands)).toFixed(3),
      cores: round(m.cores / cRuns.length, 2),
    })),
  );
  const split = [...perMaster.values()]
    .map((m) => (m.shards ? m.shards.split(',').length : 0))
    .sort((a, b) => b - a)
    .join('/');
  console.log(
    `Shards per master ${split}: each shard's tag is picked in its share of the slots (keys.ts spreadTag), ` +
      'so 8 shards split 3/3/2 over 3 masters made by redis-cli --cluster create, whatever the prefix.',
  );
  console.log(
    `replicas used ${round(
      mean('C', (r) => r.replicaCores),
      2,
    )} cores. The standalone server processed ` +
      `${fmt(mean('S', (r) => r.masters[0]!.commands / r.windowS))} commands/s, the masters together ` +
      `${fmt(mean('C', (r) => r.masters.reduce((s, m) => s + m.commands, 0) / r.windowS))}/s.`,
  );
  console.log(
    JSON.stringify({
      bench: 'cluster',
      msgs_per_s: Math.round(cPerS),
      standalone_msgs_per_s: Math.round(sPerS),
      ratio: round(cPerS / sPerS, 3),
      masters: 3,
      max_master_share: round(maxShare, 3),
      replicas: REPLICAS,
      shards: SHARDS,
      workers: WORKERS,
      machine: machine().json,
    }),
  );
} catch (err) {
  log(`cluster bench failed: ${(err as Error).message}`);
  exitCode = 1;
} finally {
  killAllApps();
  for (const r of infoConns.values()) r.disconnect();
  await cluster?.dispose().catch(() => {});
  await standalone?.dispose().catch(() => {});
  for (const name of databases)
    await dropDatabase(server, name).catch((e: Error) => log(`could not drop ${name}: ${e.message}`));
  rmSync(dir, { recursive: true, force: true });
}
process.exit(exitCode);
