import { Redis } from 'ioredis';
import { seedUrls } from './client.js';
import { parseRedisUrl, type RedisConnConfig } from './options.js';

/** Raised at start when the config's redis.mode does not match the server; its message is one line. */
export class RedisModeError extends Error {
  override name = 'RedisModeError';
}

/**
 * Asks the first reachable seed whether it is a cluster node (INFO cluster) and throws RedisModeError
 * when that contradicts redis.mode. Returns false when no seed answered within `timeoutMs` (the app
 * starts anyway and waits for Redis, as before modes existed); true when the mode matches.
 */
export async function checkRedisMode(cfg: RedisConnConfig, timeoutMs = 2_000): Promise<boolean> {
  for (const url of seedUrls(cfg)) {
    const { host, port } = parseRedisUrl(url);
    const probe = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      connectTimeout: timeoutMs,
      commandTimeout: timeoutMs,
      retryStrategy: () => null,
    });
    probe.on('error', () => {});
    let info: string;
    try {
      await probe.connect();
      info = await probe.info('cluster');
    } catch {
      continue;
    } finally {
      probe.disconnect();
    }
    const clustered = /^cluster_enabled:1\s*$/m.test(info);
    if (clustered && cfg.mode === 'standalone')
      throw new RedisModeError(
        `redis.mode is standalone but ${host}:${port} is a Redis Cluster node: set redis.mode: cluster (and redis.nodes)`,
      );
    if (!clustered && cfg.mode === 'cluster')
      throw new RedisModeError(
        `redis.mode is cluster but ${host}:${port} is a standalone Redis (cluster support disabled): set redis.mode: standalone or point redis.nodes at cluster nodes`,
      );
    return true;
  }
  return false;
}
