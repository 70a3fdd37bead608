// Starts the whole fleet locally: finds or starts Redis and Postgres, then runs the gateway, the persister
// and N workers as separate processes with prefixed logs. Ctrl-C stops them all cleanly, and so does any
// end of this process: SIGINT/SIGTERM (also via npm, whose script execs this process), its parent's death
// (polled below), or kill -9 of it (each app holds an IPC channel to it; packages/app/src/parent.ts).
//   npm start [-- --config FILE] [--workers N] [--json-logs]
// Output: colour only on a terminal (NO_COLOR respected), app logs as human lines on a terminal and as raw
// JSON when redirected (scripts/log-format.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, type FleetConfig, loadConfigFile, redactUrl } from '@fleet/config';
import { checkRedisMode, seedUrls } from '@fleet/redis';
import {
  appNodeOptions,
  createDatabase,
  ensurePostgres,
  ensureRedis,
  LOCAL_POSTGRES_URL,
  LOCAL_REDIS_URL,
  type ServiceHandle,
  withDatabase,
} from '@fleet/services';
import pg from 'pg';
import { appTag, colorEnabled, formatLogLine, prettyEnabled } from './log-format.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** How often to check that the process that started us (npm, a shell) is still there. */
const PARENT_POLL_MS = 1_000;
const colors = { gateway: 36, persister: 35, worker: 33 } as const;
type App = keyof typeof colors;

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'config/fleet.yaml' },
    workers: { type: 'string', default: '1' },
    'json-logs': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(
    'usage: npm start -- [--config FILE] [--workers N] [--json-logs]\n' +
      '  --json-logs  app logs as raw JSON lines on a terminal too (the default when output is redirected)',
  );
  process.exit(0);
}
const configPath = resolve(values.config);
const workers = Number(values.workers);
if (!Number.isInteger(workers) || workers < 1)
  fail(`--workers must be a positive integer, got "${values.workers}"`);

function fail(line: string): never {
  console.error(`[fleet] ${line}`);
  process.exit(1);
}

let cfg: FleetConfig;
try {
  cfg = loadConfigFile(configPath);
} catch (err) {
  if (err instanceof ConfigError) fail(err.problems.join('\n[fleet] '));
  throw err;
}

const lineFormat = {
  color: colorEnabled(process.stdout, process.env),
  pretty: prettyEnabled(process.stdout, values['json-logs'] === true),
};

const services: ServiceHandle[] = [];
const children = new Map<string, ChildProcess>();
let stopping = false;

/** The ready line's JSON fields (ports and URLs the app actually bound). */
type Ready = Record<string, unknown>;

/** Creates `name` on the server unless it exists (a fresh server has only `postgres`). */
async function ensureDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) return await createDatabase(serverUrl, name);
  } finally {
    await client.end().catch(() => {});
  }
  return withDatabase(serverUrl, name);
}

async function main(): Promise<void> {
  const log = (line: string) => console.log(`[fleet] ${line}`);
  // Standalone: the Redis found or started here; cluster: the configured seeds (never found or started).
  let redisLine: string;
  let redisUrlForApps: string | undefined;
  let pgServer: ServiceHandle;
  // The configured database may not exist yet: probe its server through the `postgres` database.
  const configuredDb = new URL(cfg.database.connection_string);
  const dbName = decodeURIComponent(configuredDb.pathname.slice(1)) || 'fleet';
  const serverUrl = withDatabase(cfg.database.connection_string, 'postgres');
  // cfg already carries FLEET_REDIS_URL / FLEET_DATABASE_URL (loadConfigFile applies them): hide them from
  // ensure*, which would otherwise prefer them over the server URL derived here.
  const env = { ...process.env, FLEET_REDIS_URL: undefined, FLEET_DATABASE_URL: undefined };
  try {
    if (cfg.redis.mode === 'cluster') {
      // A Redis Cluster is the user's: it must be reachable and be a cluster (a RedisModeError says so).
      const seeds = seedUrls(cfg.redis).map(redactUrl).join(', ');
      if (!(await checkRedisMode(cfg.redis)))
        throw new Error(`Redis Cluster not reachable at ${seeds} (redis.nodes): start it or fix the seeds`);
      redisLine = `${seeds} (cluster)`;
    } else {
      // The stock local URLs are "find or start": unreachable, they fall back to a private instance.
      // Any other URL is the user's choice and must be reachable.
      const redis = await ensureRedis({
        log,
        env,
        ...(cfg.redis.url === LOCAL_REDIS_URL ? {} : { url: cfg.redis.url }),
      });
      services.push(redis);
      // Reachable, but a standalone config must not point at a cluster node (the apps would refuse too).
      await checkRedisMode({ ...cfg.redis, url: redis.url, nodes: [] });
      redisLine = `${redactUrl(redis.url)} (${redis.kind})`;
      redisUrlForApps = redis.url;
    }
    pgServer = await ensurePostgres({
      log,
      env,
      ...(serverUrl === LOCAL_POSTGRES_URL ? {} : { url: serverUrl }),
    });
    services.push(pgServer);
  } catch (err) {
    return stopWith((err as Error).message.split('\n')[0] ?? '');
  }
  // PGlite serves one database; a real server gets the configured database, created when missing.
  let databaseUrl = pgServer.url;
  if (pgServer.kind !== 'embedded') {
    try {
      databaseUrl = await ensureDatabase(pgServer.url, dbName);
    } catch (err) {
      return stopWith(`cannot create database "${dbName}": ${(err as Error).message.split('\n')[0]}`);
    }
  }
  log(`redis    ${redisLine}`);
  log(`postgres ${redactUrl(databaseUrl)} (${pgServer.kind})`);

  const appEnv: NodeJS.ProcessEnv = {
    ...process.env,
    ...(redisUrlForApps ? { FLEET_REDIS_URL: redisUrlForApps } : {}),
    FLEET_DATABASE_URL: databaseUrl,
    NODE_OPTIONS: appNodeOptions(process.env.NODE_OPTIONS),
  };
  // Readiness is the apps' `"msg":"ready"` info line: a quieter level would hide it and start would wait forever.
  if (['warn', 'error', 'fatal', 'silent'].includes(cfg.logging.level)) {
    log(`logging.level ${cfg.logging.level} would hide the apps' ready line: running them at info`);
    appEnv.FLEET_LOGGING__LEVEL = 'info';
  }
  // The persister migrates the schema: start it first, then the rest.
  const persister = await startApp('persister', 'persister', appEnv);
  const gateway = await startApp('gateway', 'gateway', appEnv);
  const workerReady = await Promise.all(
    Array.from({ length: workers }, (_, i) =>
      startApp('worker', workers > 1 ? `worker-${i + 1}` : 'worker', {
        ...appEnv,
        FLEET_OPS__WORKER_METRICS_PORT: String(
          cfg.ops.worker_metrics_port === 0 ? 0 : cfg.ops.worker_metrics_port + i,
        ),
      }),
    ),
  );

  // Ports as bound (a config may say 0: the OS picks).
  const ops = typeof persister.ops === 'string' ? persister.ops.replace(/\/$/, '') : null;
  const host = cfg.network.host === '0.0.0.0' || cfg.network.host === '::' ? '127.0.0.1' : cfg.network.host;
  const metricsUrl = (port: unknown) => (port ? `http://${cfg.ops.host}:${port}/metrics` : 'off');
  console.log(
    [
      '',
      'Fleet is running:',
      `  gateway (TCP${cfg.tls.enabled ? '+TLS' : ''})  ${cfg.network.host}:${gateway.port}`,
      ops
        ? `  ops / Bull Board   ${ops}/ops/queues   health ${ops}/healthz   metrics ${ops}/metrics`
        : '  ops                off',
      `  gateway metrics    ${metricsUrl(gateway.metrics_port)}`,
      `  worker metrics     ${workerReady.map((w) => metricsUrl(w.metrics_port)).join('  ')}`,
      `  try: npx fleet demo --host ${host} --port ${gateway.port}${ops ? ` --ops ${ops}` : ''}      stop: Ctrl-C`,
      '',
    ].join('\n'),
  );
}

/** A problem before the apps run: one line, stop what was started, exit 1. */
async function stopWith(line: string): Promise<void> {
  console.error(`[fleet] ${line}`);
  await shutdown(1);
}

function startApp(app: App, name: string, env: NodeJS.ProcessEnv): Promise<Ready> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      join(root, 'scripts/register-ts.mjs'),
      join(root, `apps/${app}/src/main.ts`),
      '--config',
      configPath,
    ],
    {
      cwd: root,
      env: { ...env, FLEET_START_WATCH_PARENT: '1' },
      // 'ipc': the channel the app watches to stop when this process dies (@fleet/app, parent.ts).
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    },
  );
  children.set(name, child);
  const tag = appTag(name, colors[app], lineFormat.color);
  return new Promise((resolveReady, reject) => {
    const onLine = (line: string) => {
      console.log(`${tag} ${formatLogLine(line, lineFormat).replaceAll('\n', `\n${tag} `)}`);
      if (line.includes('"msg":"ready"')) {
        try {
          resolveReady(JSON.parse(line) as Ready);
        } catch {
          resolveReady({});
        }
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    child.on('exit', (code, signal) => {
      children.delete(name);
      console.log(`${tag} exited (${signal ?? code})`);
      reject(new Error(`${name} exited before it was ready`));
      if (!stopping) void shutdown(1);
    });
  });
}

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (children.size > 0) console.log('[fleet] stopping ...');
  const exits = [...children.values()].map((c) => new Promise((r) => c.once('exit', r)));
  for (const c of children.values()) c.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const c of children.values()) c.kill('SIGKILL');
  }, 15_000);
  await Promise.all(exits);
  clearTimeout(timer);
  for (const s of services.reverse()) await s.stop().catch(() => undefined);
  process.exit(code);
}

process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
// Output may go to a pipe whose reader (npm) is gone: keep stopping the fleet rather than die of EPIPE.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});
// The parent gone (npm or the shell killed, even with -9): stop too, rather than run on unattended.
// process.ppid is fixed at startup in Node 20, so probe that pid (signal 0) instead.
const parentPid = process.ppid;
setInterval(() => {
  try {
    process.kill(parentPid, 0);
  } catch {
    console.log(`[fleet] parent process ${parentPid} is gone`);
    void shutdown(0);
  }
}, PARENT_POLL_MS).unref();
main().catch((err) => {
  console.error(`[fleet] ${(err as Error).message}`);
  void shutdown(1);
});
