import { collectDefaultMetrics, Registry } from 'prom-client';
import { registerBuildInfo } from './build-info.js';

export type { Registry } from 'prom-client';
export type FleetApp = 'gateway' | 'persister' | 'worker';

export interface CreateRegistryOptions {
  app: FleetApp;
  /** monitoring.enabled: when false, metrics still accept updates but nothing is collected or served. */
  enabled: boolean;
  /** Node process metrics (CPU, memory, event-loop lag, GC) prefixed fleet_; default true. */
  defaultMetrics?: boolean;
}

export const METRIC_PREFIX = 'fleet_';

/**
 * prom-client's default collectors register these as gauges named `*_total`, which Prometheus reserves for
 * counters (`promtool check metrics` rejects them). They are dropped rather than renamed (a metric's name
 * is fixed when its collector makes it): each is the sum of its per-type sibling, which stays
 * (`sum without (type) (fleet_nodejs_active_handles)` gives the same number).
 */
export const DROPPED_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
].map((n) => METRIC_PREFIX + n);

const disabled = new WeakSet<Registry>();

/** One registry per app process; every series carries app="<app>". */
export function createRegistry(opts: CreateRegistryOptions): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ app: opts.app });
  if (!opts.enabled) {
    disabled.add(registry);
    return registry;
  }
  registerBuildInfo(registry);
  if (opts.defaultMetrics !== false) {
    collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
    for (const name of DROPPED_DEFAULT_METRICS) registry.removeSingleMetric(name);
  }
  return registry;
}

/** False for a registry made with enabled: false (apps then skip samplers and the metrics server). */
export function isRegistryEnabled(registry: Registry): boolean {
  return !disabled.has(registry);
}

/** The registries a metric registers in: none when monitoring is off (updates stay cheap, unseen). */
export function registersOf(registry: Registry): Registry[] {
  return disabled.has(registry) ? [] : [registry];
}
