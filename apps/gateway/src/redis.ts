import type { FleetRedis } from '@fleet/redis';

/**
 * Resolves when `redis` is ready or after `ms` (the gateway starts anyway and answers UNAVAILABLE meanwhile).
 * Works for both modes: a Cluster has the same `status` and emits `ready` once it has its slot map.
 * Connections are opened with createRedis (@fleet/redis): `command` for the hot path, `subscriber` for pub/sub.
 */
export function waitReady(redis: FleetRedis, ms: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(ok);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), ms);
    redis.on('ready', onReady);
  });
}
