/**
 * Gateway process: `node --import ./scripts/register-ts.mjs apps/gateway/src/main.ts --config fleet.yaml`.
 * thread_pools.io.workers > 1 forks that many gateway processes sharing the listening port (node:cluster);
 * each is a full gateway with its own id. Prints a JSON log line with "msg":"ready" and the port once it
 * serves. Live config fields (limits, timeouts, tokens, log level) apply on save (ConfigWatcher); new limits
 * on frame size and idle timeout apply to new connections. SIGTERM/SIGINT: stop accepting, finish and ACK
 * what was read, close, exit 0.
 */
import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { ConfigWatcher, EXIT_UNSAFE_CONFIG, exposureProblem, type FleetConfig } from '@fleet/config';
import {
  configReloadMetrics,
  createRegistry,
  isRegistryEnabled,
  type MetricsServer,
  type Registry,
  startMetricsServer,
} from '@fleet/metrics';
import { closeLogger, createLogger, initTelemetryFromConfig, type Logger, setLogLevel } from '@fleet/tracing';
import { AggregatorRegistry } from 'prom-client';
import { startGateway } from './gateway.js';

const USAGE = 'usage: gateway --config FILE';

/** Counts each reload attempt in fleet_config_reloads_total once the registry exists. */
let countReload: (ok: boolean) => void = () => {};

/** Loads the config (and keeps watching it: live fields are applied on save). Exits 2 when invalid. */
function openConfig(): ConfigWatcher {
  const { values } = parseArgs({
    options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const path = values.config ?? process.env.FLEET_CONFIG;
  if (!path) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  try {
    return new ConfigWatcher(path, { onReload: (ok) => countReload(ok) });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
}

function makeLogger(cfg: FleetConfig): Logger {
  return createLogger({
    name: 'gateway',
    level: cfg.logging.level,
    writers: cfg.logging.writers,
    async: cfg.logging.async,
    base: { pid: process.pid },
  });
}

/** One gateway process: gateway + metrics server, hot reload, graceful on SIGTERM. */
/** Where and how the gateway serves /metrics (a single process, or the cluster primary for all). */
function metricsServerOptions(cfg: FleetConfig, registry: Registry) {
  return {
    host: cfg.ops.host,
    port: cfg.ops.gateway_metrics_port,
    registry,
    basicAuth: cfg.ops.basic_auth,
    publicMetrics: cfg.ops.public_metrics,
  };
}

async function runGateway(watcher: ConfigWatcher, log: Logger): Promise<void> {
  const cfg = watcher.current;
  const registry = createRegistry({ app: 'gateway', enabled: cfg.monitoring.enabled });
  const { reloads } = configReloadMetrics(registry);
  countReload = (ok) => reloads.inc({ result: ok ? 'applied' : 'rejected' });
  const telemetry = initTelemetryFromConfig(cfg.tracing, 'gateway');
  const gw = await startGateway(cfg, { logger: log, registry, telemetry });
  let metrics: MetricsServer | undefined;
  if (cluster.isWorker) {
    // The primary serves every worker's metrics, aggregated (prom-client cluster support over IPC).
    new AggregatorRegistry(); // installs the worker's IPC responder
    AggregatorRegistry.setRegistries([registry]);
  } else if (isRegistryEnabled(registry)) {
    metrics = await startMetricsServer({
      ...metricsServerOptions(cfg, registry),
      // Open to probes without credentials: ready or not, nothing more (the counts are in /metrics).
      health: async () => ({ ok: gw.stats().redisReady }),
    });
  }
  // In a cluster only the primary says "ready" (once every worker listens); workers report to it.
  log.info(
    { port: gw.port, gateway_id: gw.gatewayId, metrics_port: metrics?.port },
    cluster.isWorker ? 'worker ready' : 'ready',
  );
  if (cluster.isWorker) process.send?.({ ready: true, port: gw.port });

  watcher.watch((next, changed) => {
    gw.reconfigure(next);
    setLogLevel(log, next.logging.level);
    log.info({ changed }, 'config reloaded');
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await watcher.stop();
    await gw.close();
    await telemetry.shutdown();
    await metrics?.close();
    await closeLogger(log);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // In a cluster the primary asks workers to stop by message (a signal to the primary alone is enough).
  process.on('message', (m: unknown) => {
    if ((m as { stop?: boolean } | null)?.stop) void stop('primary');
  });
}

/** Cluster primary: forks the workers, serves their aggregated metrics, restarts one that dies, relays shutdown. */
async function runPrimary(cfg: FleetConfig, log: Logger): Promise<void> {
  const count = cfg.thread_pools.io.workers;
  let stopping = false;
  let ready = 0;
  let metrics: MetricsServer | undefined;
  if (cfg.monitoring.enabled) {
    const aggregator = new AggregatorRegistry();
    // startMetricsServer only calls metrics() and reads contentType.
    const registry = {
      contentType: aggregator.contentType,
      metrics: () => aggregator.clusterMetrics(),
    } as unknown as Registry;
    metrics = await startMetricsServer(metricsServerOptions(cfg, registry));
  }
  const fork = () => {
    const w = cluster.fork();
    w.on('message', (m: { ready?: boolean; port?: number }) => {
      if (m?.ready && ++ready === count)
        log.info({ port: m.port, workers: count, metrics_port: metrics?.port }, 'ready');
    });
  };
  for (let i = 0; i < count; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0)
        void Promise.allSettled([metrics?.close(), closeLogger(log)]).then(() => process.exit(0));
      return;
    }
    log.error({ worker: worker.id, code, signal }, 'gateway worker died; restarting');
    ready--;
    fork();
  });
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, workers: count }, 'shutting down workers');
    const workers = Object.values(cluster.workers ?? {});
    if (workers.length === 0) process.exit(0);
    for (const w of workers) w?.send({ stop: true });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

const watcher = openConfig();
const cfg = watcher.current;
const unsafe = exposureProblem(cfg, 'gateway');
if (unsafe) {
  process.stderr.write(`gateway: ${unsafe}\n`);
  process.exit(EXIT_UNSAFE_CONFIG);
}
const log = makeLogger(cfg);
if (cfg.thread_pools.io.workers > 1 && cluster.isPrimary) {
  runPrimary(cfg, log).catch(async (err) => {
    log.fatal({ err }, 'gateway primary failed to start');
    await closeLogger(log);
    process.exit(1);
  });
} else {
  runGateway(watcher, log).catch(async (err) => {
    log.fatal({ err }, 'gateway failed to start');
    await closeLogger(log);
    process.exit(1);
  });
}
