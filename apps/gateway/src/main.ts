/**
 * Gateway process: `node --import tsx apps/gateway/src/main.ts --config fleet.yaml`.
 * thread_pools.io.workers > 1 forks that many gateway processes sharing the listening port (node:cluster);
 * each is a full gateway with its own id. Prints a JSON log line with "msg":"ready" and the port once it
 * serves. SIGTERM/SIGINT: stop accepting, finish and ACK what was read, close, exit 0.
 */
import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { type FleetConfig, loadConfigFile } from '@fleet/config';
import { createRegistry, isRegistryEnabled, type MetricsServer, startMetricsServer } from '@fleet/metrics';
import { closeLogger, createLogger, type Logger } from '@fleet/tracing';
import { startGateway } from './gateway.js';

const USAGE = 'usage: gateway --config FILE';

function readConfig(): FleetConfig {
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
    return loadConfigFile(path);
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

/** One gateway process: gateway + metrics server, graceful on SIGTERM. */
async function runGateway(cfg: FleetConfig, log: Logger): Promise<void> {
  const registry = createRegistry({ app: 'gateway', enabled: cfg.monitoring.enabled });
  const gw = await startGateway(cfg, { logger: log, registry });
  let metrics: MetricsServer | undefined;
  if (isRegistryEnabled(registry)) {
    // Cluster workers each serve their own metrics port (base + worker index) unless the base is 0.
    const base = cfg.ops.gateway_metrics_port;
    const port = base === 0 || !cluster.isWorker ? base : base + (cluster.worker?.id ?? 1) - 1;
    metrics = await startMetricsServer({
      host: cfg.ops.host,
      port,
      registry,
      health: async () => ({ ok: gw.stats().redisReady, details: { connections: gw.stats().connections } }),
    });
  }
  log.info({ port: gw.port, gateway_id: gw.gatewayId, metrics_port: metrics?.port }, 'ready');
  if (cluster.isWorker) process.send?.({ ready: true, port: gw.port });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await gw.close();
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

/** Cluster primary: forks the workers, restarts one that dies, relays shutdown. */
function runPrimary(cfg: FleetConfig, log: Logger): void {
  const count = cfg.thread_pools.io.workers;
  let stopping = false;
  let ready = 0;
  const fork = () => {
    const w = cluster.fork();
    w.on('message', (m: { ready?: boolean; port?: number }) => {
      if (m?.ready && ++ready === count) log.info({ port: m.port, workers: count }, 'ready');
    });
  };
  for (let i = 0; i < count; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) void closeLogger(log).then(() => process.exit(0));
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

const cfg = readConfig();
const log = makeLogger(cfg);
if (cfg.thread_pools.io.workers > 1 && cluster.isPrimary) {
  runPrimary(cfg, log);
} else {
  runGateway(cfg, log).catch(async (err) => {
    log.fatal({ err }, 'gateway failed to start');
    await closeLogger(log);
    process.exit(1);
  });
}
