import { BlockList, isIP } from 'node:net';
import type { FleetConfig } from './schema.js';

/**
 * The start-up rule for the ops HTTP servers ("nothing writable is exposed beyond localhost without
 * auth"): each app's main.ts asks exposureProblem() before it listens and exits 2 with the line it gets.
 *
 * - persister: its ops server carries Bull Board and dead-letter replay/purge (read-write), so a
 *   non-loopback ops.host needs ops.basic_auth; ops.public_metrics does not change that.
 * - gateway, worker: their metrics servers are read-only (/metrics, /healthz, /readyz; GET/HEAD only),
 *   so ops.public_metrics is an explicit enough opt-in for a non-loopback host without basic_auth.
 * - ops.allow_insecure: true lifts the rule (a network the operator trusts entirely).
 */
export type OpsApp = 'gateway' | 'persister' | 'worker';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * True when `host` can only be reached from this machine: 127.0.0.0/8, ::1 (and its IPv4-mapped form)
 * or `localhost`. Any other name counts as non-loopback: it is not resolved here, and a name that
 * resolves to a public address must not pass.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (h.toLowerCase() === 'localhost') return true;
  const family = isIP(h);
  if (family === 4) return LOOPBACK.check(h, 'ipv4');
  if (family === 6) return LOOPBACK.check(h, 'ipv6');
  return false;
}

/** Why `app` must not start with `cfg` (one line), or null when its ops listener is safe. */
export function exposureProblem(cfg: FleetConfig, app: OpsApp): string | null {
  const { ops } = cfg;
  if (ops.allow_insecure || ops.basic_auth || isLoopbackHost(ops.host)) return null;
  const fixes = 'set ops.basic_auth, or ops.host: 127.0.0.1';
  if (app === 'persister')
    return (
      `refusing to start: the ops server (Bull Board, dead-letter replay and purge) would listen on ` +
      `${ops.host}:${ops.port} without ops.basic_auth; ${fixes}, or ops.allow_insecure: true to open it anyway`
    );
  // Gateway and worker serve metrics only, and only when monitoring is on.
  if (!cfg.monitoring.enabled || ops.public_metrics) return null;
  const port = app === 'gateway' ? ops.gateway_metrics_port : ops.worker_metrics_port;
  return (
    `refusing to start: /metrics would listen on ${ops.host}:${port} without ops.basic_auth; ${fixes}, ` +
    'or ops.public_metrics: true to serve metrics (read-only) to anyone who reaches it'
  );
}

/** Exit code of an app refused by exposureProblem (the same as an invalid config). */
export const EXIT_UNSAFE_CONFIG = 2;
