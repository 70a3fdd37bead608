// Starts the whole fleet locally: finds or starts Redis and Postgres, then runs the gateway, the persister
// and N workers as separate processes with prefixed logs. Ctrl-C stops them all cleanly.
//   npm start [-- --config FILE] [--workers N]
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, type FleetConfig, loadConfigFile, redactUrl } from '@fleet/config';
import { createDatabase, ensurePostgres, ensureRedis, type ServiceHandle } from '@fleet/services';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const colors = { gateway: 36, persister: 35, worker: 33 } as const;
type App = keyof typeof colors;

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'config/fleet.yaml' },
    workers: { type: 'string', default: '1' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('usage: npm start -- [--config FILE] [--workers N]');
  process.exit(0);
}
const configPath = resolve(values.config);
const workers = Number(values.workers);
if (!Number.isInteger(workers) || workers < 1) fail(`--workers must be a positive integer, got "${values.workers}"`);

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

const services: ServiceHandle[] = [];
const children = new Map<string, ChildProcess>();
let stopping = false;

async function main(): Promise<void> {
  const log = (line: string) => console.log(`[fleet] ${line}`);
  let redis: ServiceHandle;
  let pg: ServiceHandle;
  try {
    redis = await ensureRedis({ url: cfg.redis.url, log });
    services.push(redis);
    pg = await ensurePostgres({ url: cfg.database.connection_string, log });
    services.push(pg);
  } catch (err) {
    fail((err as Error).message);
  }
  // A configured database may not exist yet on a fresh server: create it.
  let databaseUrl = pg.url;
  if (pg.kind === 'configured' || pg.kind === 'local') {
    const u = new URL(cfg.database.connection_string);
    const name = u.pathname.slice(1) || 'fleet';
    await createDatabase(pg.url, name).catch(() => undefined);
    const target = new URL(pg.url);
    target.pathname = `/${name}`;
    databaseUrl = target.toString();
  }
  log(`redis    ${redactUrl(redis.url)} (${redis.kind})`);
  log(`postgres ${redactUrl(databaseUrl)} (${pg.kind})`);

  const env = { ...process.env, FLEET_REDIS_URL: redis.url, FLEET_DATABASE_URL: databaseUrl };
  // The persister migrates the schema: start it first, then the rest.
  await startApp('persister', 'persister', env);
  await startApp('gateway', 'gateway', env);
  await Promise.all(
    Array.from({ length: workers }, (_, i) =>
      startApp('worker', workers > 1 ? `worker-${i + 1}` : 'worker', {
        ...env,
        FLEET_OPS__WORKER_METRICS_PORT: String(cfg.ops.worker_metrics_port === 0 ? 0 : cfg.ops.worker_metrics_port + i),
      }),
    ),
  );

  const ops = `http://${cfg.ops.host}:${cfg.ops.port}`;
  console.log(
    [
      '',
      'Fleet is running:',
      `  gateway (TCP${cfg.tls.enabled ? '+TLS' : ''})  ${cfg.network.host}:${cfg.network.port}`,
      `  ops / Bull Board   ${ops}/ops/queues   health ${ops}/healthz   metrics ${ops}/metrics`,
      `  gateway metrics    http://${cfg.ops.host}:${cfg.ops.gateway_metrics_port}/metrics`,
      `  worker metrics     http://${cfg.ops.host}:${cfg.ops.worker_metrics_port}${workers > 1 ? `..${cfg.ops.worker_metrics_port + workers - 1}` : ''}/metrics`,
      `  try: npx fleet demo --port ${cfg.network.port}      stop: Ctrl-C`,
      '',
    ].join('\n'),
  );
}

function startApp(app: App, name: string, env: NodeJS.ProcessEnv): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, `apps/${app}/src/main.ts`), '--config', configPath], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.set(name, child);
  const tag = `\x1b[${colors[app]}m${name.padEnd(10)}\x1b[0m|`;
  return new Promise((resolveReady, reject) => {
    const onLine = (line: string) => {
      console.log(`${tag} ${line}`);
      if (line.includes('"msg":"ready"')) resolveReady();
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
  console.log('[fleet] stopping ...');
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
main().catch((err) => {
  console.error(`[fleet] ${(err as Error).message}`);
  void shutdown(1);
});
