export { APP_NODE_FLAGS, appNodeOptions } from './app-node-flags.js';
export { onProcessExit } from './children.js';
export { createDatabase, dropDatabase, withDatabase } from './databases.js';
export {
  EMBEDDED_MAX_CONNECTIONS,
  type EmbeddedPostgres,
  startEmbeddedPostgres,
} from './embedded-postgres.js';
export {
  type EnsureOptions,
  ensurePostgres,
  ensureRedis,
  LOCAL_POSTGRES_URL,
  LOCAL_REDIS_URL,
  type ServiceHandle,
  type ServiceKind,
} from './ensure.js';
export { ServiceUnavailableError } from './errors.js';
export { freePort } from './ports.js';
export {
  type PrivatePostgres,
  type PrivatePostgresOptions,
  startPrivatePostgres,
} from './private-postgres.js';
export { type PrivateRedis, type PrivateRedisOptions, startPrivateRedis } from './private-redis.js';
export {
  type ClusterNodeInfo,
  type PrivateRedisCluster,
  type PrivateRedisClusterOptions,
  parseClusterNodes,
  startPrivateRedisCluster,
} from './private-redis-cluster.js';
export { probePostgres, probeRedis } from './probe.js';
