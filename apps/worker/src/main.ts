import { dirname } from 'node:path';
import { runApp } from '@fleet/app';
import { HandlerLoadError } from './handler-loader.js';
import { ConsumeShardsError, newWorkerId, startWorker } from './worker.js';

/**
 * The worker process: `node --import ./scripts/register-ts.mjs apps/worker/src/main.ts --config fleet.yaml`.
 * Loads the handler modules listed in the config (paths relative to the config file), consumes the
 * fleet queue of every shard (or queue.consume_shards), logs `{"msg":"ready"}`, applies live config changes, and on SIGTERM/SIGINT stops taking
 * jobs, finishes in-flight ones up to handlers.shutdown_timeout_ms and exits 0.
 * A start failure (broken handler module, Redis unreachable) is one line on stderr, exit 1; an invalid
 * config, or an ops listener the config leaves unsafe, is one line, exit 2 (@fleet/app, as every app).
 */
await runApp({
  name: 'worker',
  metricsPort: (cfg) => cfg.ops.worker_metrics_port,
  // A handler module that does not load, a shard the fleet lacks: one line each (a Redis of the other mode is
  // refused by runApp before this).
  startFailure: (err) =>
    err instanceof HandlerLoadError || err instanceof ConsumeShardsError ? err.message : undefined,
  instanceId: newWorkerId,
  async start({ config, configPath, watcher, logger, telemetry, instanceId }) {
    // The worker follows live fields itself (concurrency, handler modules, ...) through the watcher.
    const app = await startWorker(config, {
      watcher,
      logger,
      handlersBaseDir: dirname(configPath),
      tracer: telemetry.tracer,
      workerId: instanceId,
    });
    return {
      ready: {
        worker_id: app.id,
        queue: config.queue.name,
        shards: app.shards,
        concurrency: app.concurrency,
        queue_size: config.thread_pools.work.queue_size,
        subscriptions: app.router().size,
      },
      registry: app.registry,
      health: async () => ({ ok: app.healthy() }),
      close: () => app.close(),
    };
  },
});
