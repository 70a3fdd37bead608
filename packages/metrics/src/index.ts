export { type BasicAuthCredentials, basicAuthChallenge, basicAuthMatches } from './basic-auth.js';
export { BATCH_SIZE_BUCKETS, SECONDS_BUCKETS } from './buckets.js';
export { FLEET_VERSION, registerBuildInfo } from './build-info.js';
export { cachedLabels } from './child-cache.js';
export { HistogramSeries, LeanHistogram } from './lean-histogram.js';
export {
  type CreateRegistryOptions,
  createRegistry,
  DROPPED_DEFAULT_METRICS,
  type FleetApp,
  isRegistryEnabled,
  METRIC_PREFIX,
  type Registry,
  registersOf,
} from './registry.js';
export {
  type HealthResult,
  type MetricsServer,
  type MetricsServerOptions,
  startMetricsServer,
} from './server.js';
export {
  type ConfigReloadMetrics,
  configReloadMetrics,
  type GatewayMetrics,
  gatewayMetrics,
  type PersisterMetrics,
  persisterMetrics,
  QUEUE_JOB_STATES,
  type WorkerMetrics,
  workerMetrics,
} from './sets.js';
export { OTHER_LABEL, TopicLabeler, type TopicLabelerOptions } from './topic-labeler.js';
