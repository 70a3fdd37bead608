import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigWatcher, EXIT_UNSAFE_CONFIG, exposureProblem, isConfigError } from '@fleet/config';
import { configReloadMetrics } from '@fleet/metrics';
import { errorMessage } from '@fleet/router';
import { initTelemetryFromConfig } from '@fleet/tracing';
import { HandlerLoadError } from './handler-loader.js';
import { startWorker } from './worker.js';

/**
 * The worker process: `node --import ./scripts/register-ts.mjs apps/worker/src/main.ts --config fleet.yaml`.
 * Loads the handler modules listed in the config (paths relative to the config file), consumes the
 * fleet queue, logs `{"msg":"ready"}`, applies live config changes, and on SIGTERM/SIGINT stops taking
 * jobs, finishes in-flight ones up to handlers.shutdown_timeout_ms and exits 0.
 * A start failure (broken handler module, Redis unreachable) is one line on stderr, exit 1; an invalid
 * config, or an ops listener the config leaves unsafe (exposureProblem), is one line, exit 2 (as the
 * gateway and persister).
 */
const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' } } });
if (!values.config) {
  process.stderr.write('usage: worker --config FILE\n');
  process.exit(2);
}
const configPath = resolve(values.config);

function fail(line: string, code = 1): never {
  process.stderr.write(`worker: ${line}\n`);
  process.exit(code);
}

// Reload attempts count in fleet_config_reloads_total once the worker's registry exists.
let countReload: (ok: boolean) => void = () => {};
let watcher: ConfigWatcher;
try {
  watcher = new ConfigWatcher(configPath, { onReload: (ok) => countReload(ok) });
} catch (err) {
  fail(isConfigError(err) ? err.problems.join('\n') : errorMessage(err), 2);
}
const cfg = watcher.current;
const unsafe = exposureProblem(cfg, 'worker');
if (unsafe) {
  process.stderr.write(`worker: ${unsafe}\n`);
  process.exit(EXIT_UNSAFE_CONFIG);
}
const telemetry = initTelemetryFromConfig(cfg.tracing, 'worker');

try {
  const app = await startWorker(cfg, {
    watcher,
    handlersBaseDir: dirname(configPath),
    tracer: telemetry.tracer,
  });
  const { reloads } = configReloadMetrics(app.registry);
  countReload = (ok) => reloads.inc({ result: ok ? 'applied' : 'rejected' });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await app.close();
    await watcher.stop();
    await telemetry.shutdown().catch(() => {});
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
} catch (err) {
  await watcher.stop();
  fail(
    err instanceof HandlerLoadError ? err.message : `failed to start: ${errorMessage(err).split('\n')[0]}`,
  );
}
