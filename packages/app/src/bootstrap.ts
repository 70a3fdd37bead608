import cluster, { type Worker } from 'node:cluster';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  ConfigWatcher,
  EXIT_UNSAFE_CONFIG,
  exposureProblem,
  type FleetConfig,
  isConfigError,
  type OpsApp,
  redactUrl,
} from '@fleet/config';
import {
  configReloadMetrics,
  FLEET_VERSION,
  type HealthResult,
  isRegistryEnabled,
  type MetricsServer,
  type Registry,
  startMetricsServer,
} from '@fleet/metrics';
import { checkRedisMode, RedisModeError } from '@fleet/redis';
import {
  closeLogger,
  createLogger,
  initTelemetryFromConfig,
  type Logger,
  setLogLevel,
  type Telemetry,
} from '@fleet/tracing';
import { AggregatorRegistry } from 'prom-client';
import { watchParent } from './parent.js';
import { type ShutdownSignals, watchSignals } from './signals.js';

/** Exit codes (docs/operations.md): a usage or config problem, any other start failure. */
export const EXIT_USAGE = 2;
export const EXIT_START_FAILED = 1;

/** What an app's start() gets: everything the bootstrap set up before the app's own components. */
export interface AppContext {
  readonly name: OpsApp;
  /** The config file, absolute (the worker's handler module paths are relative to its directory). */
  readonly configPath: string;
  /** The config at start; live fields follow reloads through `watcher` / RunningApp.reconfigure. */
  readonly config: FleetConfig;
  readonly watcher: ConfigWatcher;
  readonly logger: Logger;
  readonly telemetry: Telemetry;
  /** AppSpec.instanceId's id (the spans' service.instance.id): the app goes by it (gateway id, ...). */
  readonly instanceId: string;
}

/** What start() hands back once the app serves. */
export interface RunningApp {
  /** Fields of the ready line (`"msg":"ready"`), e.g. the port the app bound. */
  readonly ready: Record<string, unknown>;
  /** Gets fleet_config_reloads_total and fleet_config_last_reload_successful; served on AppSpec.metricsPort when the spec has one. */
  readonly registry?: Registry;
  /** /readyz of the metrics server (default: ready). Probes see only `{ ok }`. */
  health?(): Promise<HealthResult>;
  /** Applies the live fields of a reloaded config (the log level is the bootstrap's). */
  reconfigure?(next: FleetConfig, changed: string[]): void;
  /** Graceful stop within the app's own deadlines (drains, handlers.shutdown_timeout_ms, ...). */
  close(): Promise<void>;
}

export interface AppSpec {
  readonly name: OpsApp;
  /**
   * The id this process goes by (gateway id, worker id, persister consumer name), made before telemetry
   * starts: its spans' service.instance.id. Default `<hostname>-<pid>`.
   */
  instanceId?(): string;
  /** Starts the app's own components; resolves once it serves. */
  start(ctx: AppContext): Promise<RunningApp>;
  /** Where the bootstrap serves RunningApp.registry (/metrics, /healthz, /readyz); none: the app has its own. */
  metricsPort?(cfg: FleetConfig): number;
  /**
   * Processes to run (node:cluster; they share the ports they listen on; default 1). With more than one,
   * this process is a primary: it forks them, serves their summed metrics, restarts one that dies, relays
   * shutdown, and says "ready" once every one has (they report the shared `port` of their ready line).
   */
  processes?(cfg: FleetConfig): number;
  /** The one stderr line for a start failure; undefined: `failed to start: <first line of the error>`. */
  startFailure?(err: unknown): string | undefined;
}

interface Boot {
  readonly spec: AppSpec;
  readonly configPath: string;
  readonly watcher: ConfigWatcher;
  readonly config: FleetConfig;
  readonly log: Logger;
  readonly signals: ShutdownSignals;
}

/** Message a cluster worker sends its primary once it serves, and the primary's stop request. */
type ClusterMessage = { ready?: boolean; port?: unknown; stop?: boolean } | null | undefined;

/** Reload attempts count in fleet_config_reloads_total once the app's registry exists. */
let countReload: (ok: boolean) => void = () => {};

/**
 * Runs one Fleet app process: `--config FILE` (or FLEET_CONFIG), the config refusals (exit 2, one line
 * on stderr each), the logger, telemetry, the app's components, its metrics server, hot reload and the
 * ready line; then SIGINT/SIGTERM (or the end of `npm start`, see parent.ts) stop it gracefully: exit 0.
 * A repeat of the signal that started the shutdown exits at once (see signals.ts).
 */
export async function runApp(spec: AppSpec): Promise<void> {
  const { name } = spec;
  // Before anything can fork: the marker is for this process only (parent.ts).
  const parent = watchParent();
  const configPath = configPathFromArgs(name);
  let watcher: ConfigWatcher;
  try {
    watcher = new ConfigWatcher(configPath, { onReload: (ok) => countReload(ok) });
  } catch (err) {
    const lines = isConfigError(err) ? err.problems : [firstLine(err)];
    refuse(lines.map((l) => `${name}: ${l}`).join('\n'), EXIT_USAGE);
  }
  const config = watcher.current;
  const unsafe = exposureProblem(config, name);
  if (unsafe) refuse(`${name}: ${unsafe}`, EXIT_UNSAFE_CONFIG);

  const log = createLogger({
    name,
    level: config.logging.level,
    writers: config.logging.writers,
    async: config.logging.async,
  });
  // Until the app serves, a stop request ends the process at once (there is nothing to drain yet).
  const signals = watchSignals(log);
  parent.onGone(() => signals.stop('parent gone'));
  const boot: Boot = { spec, configPath, watcher, config, log, signals };
  // redis.mode against the server, before the app opens anything (once: a forked worker's primary did it).
  if (!cluster.isWorker) await checkMode(boot);
  const processes = spec.processes?.(config) ?? 1;
  if (processes > 1 && cluster.isPrimary) await runPrimary(boot, processes);
  else await runProcess(boot);
}

/**
 * A standalone config pointed at a Redis Cluster node, or the reverse, ends the start with the one line of
 * RedisModeError (exit 2: a config problem). An unreachable Redis is no refusal: the app starts and waits.
 */
async function checkMode(boot: Boot): Promise<void> {
  try {
    await checkRedisMode(boot.config.redis);
  } catch (err) {
    return startFailed(boot, err, undefined, err instanceof RedisModeError ? EXIT_USAGE : EXIT_START_FAILED);
  }
}

function configPathFromArgs(name: OpsApp): string {
  const usage = `usage: ${name} --config FILE`;
  let values: { config?: string | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    refuse(`${name}: ${firstLine(err)} (${usage})`, EXIT_USAGE);
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const path = values.config ?? process.env.FLEET_CONFIG;
  if (!path) refuse(usage, EXIT_USAGE);
  return resolve(path);
}

function refuse(text: string, code: number): never {
  process.stderr.write(`${text}\n`);
  process.exit(code);
}

function firstLine(err: unknown): string {
  return redactUrl(err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}

/**
 * A start failure: one fatal log line, one stderr line, exit 1 (or `code`). A RedisModeError's line is
 * its message alone (it says what to change in the config).
 */
async function startFailed(
  boot: Boot,
  err: unknown,
  telemetry?: Telemetry,
  code = EXIT_START_FAILED,
): Promise<never> {
  const { spec, log, watcher } = boot;
  const modeError = err instanceof RedisModeError;
  // A mode mismatch is a config problem, not a fault in the code: its message, no stack.
  if (modeError) log.fatal({ reason: firstLine(err) }, `${spec.name} failed to start`);
  else log.fatal({ err }, `${spec.name} failed to start`);
  const line = modeError
    ? firstLine(err)
    : (spec.startFailure?.(err) ?? `failed to start: ${firstLine(err)}`);
  process.stderr.write(`${spec.name}: ${line}\n`);
  await watcher.stop().catch(() => {});
  await telemetry?.shutdown().catch(() => {});
  await closeLogger(log);
  process.exit(code);
}

/** One app process (alone, or one of a cluster primary's workers). */
async function runProcess(boot: Boot): Promise<void> {
  const { spec, configPath, watcher, config, log, signals } = boot;
  if (cluster.isWorker) {
    // The primary asks its workers to stop by message (a signal to the primary alone is enough); listened
    // for from the start, so that a stop during start-up is not lost.
    process.on('message', (m: ClusterMessage) => {
      if (m?.stop) signals.stop('primary');
    });
  }
  const instanceId = spec.instanceId?.() ?? `${hostname()}-${process.pid}`;
  // NodeSDK: the OTEL_* variables override the config's tracing section (docs/observability.md).
  const telemetry = initTelemetryFromConfig(config.tracing, spec.name, {
    version: FLEET_VERSION,
    instanceId,
    onWarning: (problem) => log.warn({ problem }, 'OpenTelemetry variable ignored'),
  });
  let app: RunningApp;
  try {
    app = await spec.start({
      name: spec.name,
      configPath,
      config,
      watcher,
      logger: log,
      telemetry,
      instanceId,
    });
  } catch (err) {
    return startFailed(boot, err, telemetry);
  }
  let metrics: MetricsServer | undefined;
  const registry = app.registry;
  try {
    if (registry) {
      const { reloads, lastReloadSuccessful } = configReloadMetrics(registry);
      // The config the process started with was valid (it would not have started otherwise).
      lastReloadSuccessful.set(1);
      countReload = (ok) => {
        reloads.inc({ result: ok ? 'applied' : 'rejected' });
        lastReloadSuccessful.set(ok ? 1 : 0);
      };
      if (cluster.isWorker) {
        // The primary serves every worker's metrics, summed (prom-client cluster support over IPC).
        new AggregatorRegistry(); // installs this worker's IPC responder
        AggregatorRegistry.setRegistries([registry]);
      } else if (spec.metricsPort && isRegistryEnabled(registry)) {
        const health = app.health?.bind(app);
        metrics = await startMetricsServer({
          ...metricsServerOptions(config, spec.metricsPort(config), registry),
          // Open to probes without credentials: ready or not, nothing more (the counts are in /metrics).
          ...(health ? { health } : {}),
        });
      }
    }
  } catch (err) {
    await app.close().catch(() => {});
    return startFailed(boot, err, telemetry);
  }

  watcher.watch((next, changed) => {
    app.reconfigure?.(next, changed);
    setLogLevel(log, next.logging.level);
    log.info({ changed }, 'config reloaded');
  });
  // In a cluster only the primary says "ready" (once every worker serves); workers report to it.
  log.info({ ...app.ready, metrics_port: metrics?.port }, cluster.isWorker ? 'worker ready' : 'ready');
  if (cluster.isWorker) process.send?.({ ready: true, port: app.ready.port });

  signals.serve(async (reason) => {
    log.info({ signal: reason }, 'shutting down');
    await watcher.stop().catch(() => {});
    let code = 0;
    try {
      await app.close();
    } catch (err) {
      log.error({ err }, 'shutdown failed');
      code = 1;
    }
    await metrics?.close().catch(() => {});
    await telemetry.shutdown().catch(() => {});
    log.info('stopped');
    await closeLogger(log);
    process.exit(code);
  });
}

function metricsServerOptions(cfg: FleetConfig, port: number, registry: Registry) {
  return {
    host: cfg.ops.host,
    port,
    registry,
    basicAuth: cfg.ops.basic_auth,
    publicMetrics: cfg.ops.public_metrics,
  };
}

/**
 * Whether no worker of the cluster still runs. Not `cluster.workers` being empty: Node lists a worker until
 * both its process exited and its IPC channel closed, and the two events come in either order. When the
 * last worker's exit came first, the primary found it still listed, and no later event asked again: it
 * hung until killed (seen in a full test run on a slow box: `app.stop()` of a gateway with two io workers
 * ended by SIGKILL).
 */
export function allWorkersDead(workers: NodeJS.Dict<Pick<Worker, 'isDead'>> | undefined): boolean {
  return Object.values(workers ?? {}).every((w) => w === undefined || w.isDead());
}

/** Cluster primary: forks the workers, serves their summed metrics, restarts one that dies, relays shutdown. */
async function runPrimary(boot: Boot, count: number): Promise<void> {
  const { spec, config, log, signals } = boot;
  let stopping = false;
  let ready = 0;
  let metrics: MetricsServer | undefined;
  try {
    if (spec.metricsPort && config.monitoring.enabled) {
      const aggregator = new AggregatorRegistry();
      // startMetricsServer only calls metrics() and reads contentType.
      const registry = {
        contentType: aggregator.contentType,
        metrics: () => aggregator.clusterMetrics(),
      } as unknown as Registry;
      metrics = await startMetricsServer(metricsServerOptions(config, spec.metricsPort(config), registry));
    }
  } catch (err) {
    return startFailed(boot, err);
  }
  const fork = () => {
    const w = cluster.fork();
    w.on('message', (m: ClusterMessage) => {
      if (m?.ready && ++ready === count)
        log.info({ port: m.port, workers: count, metrics_port: metrics?.port }, 'ready');
    });
  };
  for (let i = 0; i < count; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (allWorkersDead(cluster.workers))
        void Promise.allSettled([metrics?.close(), closeLogger(log)]).then(() => process.exit(0));
      return;
    }
    log.error({ worker: worker.id, code, signal }, `${spec.name} worker died; restarting`);
    ready--;
    fork();
  });
  // A forced exit takes the workers with it: a signal sent to the primary alone never reached them.
  signals.onForce(() => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
  });
  signals.serve(async (reason) => {
    stopping = true;
    log.info({ signal: reason, workers: count }, 'shutting down workers');
    const workers = Object.values(cluster.workers ?? {});
    if (workers.length === 0) process.exit(0);
    for (const w of workers) w?.send({ stop: true });
  });
}
