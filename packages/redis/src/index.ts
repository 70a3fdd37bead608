export {
  createRedis,
  deleteMatching,
  type FleetRedis,
  isCluster,
  masters,
  onMessage,
  publish,
  publishMany,
  seedUrls,
  subscribe,
} from './client.js';
export { checkRedisMode, RedisModeError } from './mode.js';
export {
  CONNECT_TIMEOUT_MS,
  parseRedisUrl,
  type RedisConnConfig,
  type RedisMode,
  type RedisRole,
  type RoleOptions,
  reconnectDelay,
  redact,
  roleClusterOptions,
  roleRedisOptions,
} from './options.js';
