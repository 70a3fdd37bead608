/**
 * Gateway process: `node --import ./scripts/register-ts.mjs apps/gateway/src/main.ts --config fleet.yaml`.
 * thread_pools.io.workers > 1 forks that many gateway processes sharing the listening port (node:cluster);
 * each is a full gateway with its own id. Prints a JSON log line with "msg":"ready" and the port once it
 * serves. Live config fields (limits, timeouts, tokens, log level) apply on save (ConfigWatcher); new limits
 * on frame size and idle timeout apply to new connections. SIGTERM/SIGINT: stop accepting, finish and ACK
 * what was read, close, exit 0. Config, signals, metrics server and the ready line: @fleet/app.
 */
import { hostname } from 'node:os';
import { runApp } from '@fleet/app';
import { createRegistry } from '@fleet/metrics';
import { newGatewayId } from '@fleet/protocol';
import { startGateway } from './gateway.js';

await runApp({
  name: 'gateway',
  processes: (cfg) => cfg.thread_pools.io.workers,
  metricsPort: (cfg) => cfg.ops.gateway_metrics_port,
  instanceId: () => newGatewayId(hostname(), process.pid),
  async start({ config, logger, telemetry, instanceId }) {
    const registry = createRegistry({ app: 'gateway', enabled: config.monitoring.enabled });
    const gw = await startGateway(config, { logger, registry, telemetry, gatewayId: instanceId });
    return {
      ready: { port: gw.port, gateway_id: gw.gatewayId },
      registry,
      health: async () => ({ ok: gw.stats().redisReady }),
      reconfigure: (next) => gw.reconfigure(next),
      close: () => gw.close(),
    };
  },
});
