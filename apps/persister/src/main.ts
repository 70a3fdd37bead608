import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { ConfigWatcher, EXIT_UNSAFE_CONFIG, exposureProblem } from '@fleet/config';
import { configReloadMetrics } from '@fleet/metrics';
import { closeLogger, createLogger, initTelemetryFromConfig, setLogLevel } from '@fleet/tracing';
import { errorText } from './log.js';
import { startPersister } from './persister.js';

/**
 * The persister process: `node --import ./scripts/register-ts.mjs apps/persister/src/main.ts --config fleet.yaml`.
 * Migrates the schema (advisory lock: several persisters may start at once), consumes the streams,
 * serves the ops HTTP server, logs `{"msg":"ready"}`, applies live config changes on hot reload, and on
 * SIGTERM/SIGINT finishes the batch in hand and exits 0.
 */
const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' } } });
if (!values.config) {
  process.stderr.write('usage: persister --config FILE\n');
  process.exit(2);
}

// Reload attempts count in fleet_config_reloads_total once the persister's registry exists.
let countReload: (ok: boolean) => void = () => {};
let watcher: ConfigWatcher;
try {
  watcher = new ConfigWatcher(values.config, { onReload: (ok) => countReload(ok) });
} catch (err) {
  // An invalid config is one line and exit 2 (as the gateway and worker), never a stack trace.
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
const cfg = watcher.current;
const unsafe = exposureProblem(cfg, 'persister');
if (unsafe) {
  process.stderr.write(`persister: ${unsafe}\n`);
  process.exit(EXIT_UNSAFE_CONFIG);
}
const logger = createLogger({
  name: 'persister',
  level: cfg.logging.level,
  writers: cfg.logging.writers,
  async: cfg.logging.async,
});
const consumerName = `${hostname()}-${process.pid}`;
const telemetry = initTelemetryFromConfig(cfg.tracing, 'persister');

try {
  const persister = await startPersister(cfg, { logger, consumerName, tracer: telemetry.tracer });
  const { reloads } = configReloadMetrics(persister.metrics.registry);
  countReload = (ok) => reloads.inc({ result: ok ? 'applied' : 'rejected' });
  watcher.watch((next, changed) => {
    persister.reconfigure(next);
    setLogLevel(logger, next.logging.level);
    logger.info({ changed }, 'config reloaded');
  });
  logger.info(
    {
      consumer: consumerName,
      ops: persister.opsUrl ?? null,
      queue: cfg.queue.name,
      shards: cfg.streams.shards,
    },
    'ready',
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    await watcher.stop();
    await persister.close();
    await telemetry.shutdown();
    logger.info({}, 'stopped');
    await closeLogger(logger);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
} catch (err) {
  logger.fatal({ err: errorText(err) }, 'persister failed to start');
  await watcher.stop();
  await closeLogger(logger);
  process.exit(1);
}
