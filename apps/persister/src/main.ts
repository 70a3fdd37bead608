import { runApp } from '@fleet/app';
import { startPersister } from './persister.js';

/**
 * The persister process: `node --import ./scripts/register-ts.mjs apps/persister/src/main.ts --config fleet.yaml`.
 * Migrates the schema (advisory lock: several persisters may start at once), consumes the streams,
 * serves the ops HTTP server, logs `{"msg":"ready"}`, applies live config changes on hot reload, and on
 * SIGTERM/SIGINT finishes the batch in hand and exits 0. Config, signals and the ready line: @fleet/app
 * (the ops server, with /metrics, is the persister's own).
 */
await runApp({
  name: 'persister',
  // The consumer name is the bootstrap's default instance id, `<hostname>-<pid>`.
  async start({ config, logger, telemetry, instanceId: consumerName }) {
    const persister = await startPersister(config, { logger, consumerName, tracer: telemetry.tracer });
    return {
      ready: {
        consumer: consumerName,
        ops: persister.opsUrl ?? null,
        queue: config.queue.name,
        shards: config.streams.shards,
      },
      registry: persister.metrics.registry,
      reconfigure: (next) => persister.reconfigure(next),
      close: () => persister.close(),
    };
  },
});
