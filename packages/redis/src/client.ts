import { Cluster, Redis, type RedisOptions } from 'ioredis';
import {
  natMapOf,
  parseRedisUrl,
  type RedisConnConfig,
  type RedisRole,
  type RoleOptions,
  roleClusterOptions,
  roleRedisOptions,
} from './options.js';

/** A connection of either mode; both run the same commands (on a cluster each command's keys share a slot). */
export type FleetRedis = Redis | Cluster;

export function isCluster(r: FleetRedis): r is Cluster {
  return (r as Cluster).isCluster === true;
}

/** Seed URLs of a cluster: `nodes`, or `url` when empty. */
export function seedUrls(cfg: RedisConnConfig): string[] {
  return cfg.nodes.length > 0 ? [...cfg.nodes] : [cfg.url];
}

/**
 * Opens a connection for `role` in the configured mode. Standalone: `new Redis(url, ...)` exactly as the
 * apps did before modes existed. Cluster: `new Cluster(seeds, ...)`; user, password and TLS of the first
 * seed (or `url`) apply to every node, so a managed cluster needs one URL with credentials.
 */
export function createRedis(cfg: RedisConnConfig, role: RedisRole, opts: RoleOptions = {}): FleetRedis {
  const perNode: RedisOptions = { ...roleRedisOptions(role, opts), ...opts.redis };
  if (cfg.mode === 'standalone') return new Redis(cfg.url, perNode);

  const seeds = seedUrls(cfg).map(parseRedisUrl);
  const auth = cfg.nodes.length > 0 && !seeds[0]!.password ? parseRedisUrl(cfg.url) : seeds[0]!;
  // Cluster-level settings that ioredis does not take per node.
  const { retryStrategy: _retry, enableOfflineQueue, lazyConnect, ...nodeOptions } = perNode;
  return new Cluster(
    seeds.map((s) => ({ host: s.host, port: s.port })),
    {
      ...roleClusterOptions(role),
      ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
      ...(lazyConnect !== undefined ? { lazyConnect } : {}),
      natMap: natMapOf(cfg.nat_map),
      redisOptions: {
        ...nodeOptions,
        ...(auth.username ? { username: auth.username } : {}),
        ...(auth.password ? { password: auth.password } : {}),
        ...(auth.tls ? { tls: {} } : {}),
      },
      ...(auth.tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
    },
  );
}

/** The master connections: one per cluster master, or the client itself. For per-node work (SCAN, INFO). */
export function masters(r: FleetRedis): Redis[] {
  return isCluster(r) ? r.nodes('master') : [r];
}

/** Deletes every key matching `patterns` on every master (SCAN + UNLINK key by key: no CROSSSLOT). */
export async function deleteMatching(r: FleetRedis, patterns: readonly string[]): Promise<number> {
  let n = 0;
  for (const node of masters(r)) {
    for (const match of patterns) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', 1000);
        cursor = next;
        if (keys.length === 0) continue;
        const pipe = node.pipeline();
        for (const k of keys) pipe.unlink(k);
        await pipe.exec();
        n += keys.length;
      } while (cursor !== '0');
    }
  }
  return n;
}

/** Publishes on a channel: SPUBLISH on a cluster (only the channel's shard hears it), PUBLISH otherwise. */
export function publish(r: FleetRedis, channel: string, message: string | Buffer): Promise<number> {
  return isCluster(r) ? (r.spublish(channel, message) as Promise<number>) : r.publish(channel, message);
}

/** Several publishes: one pipeline on one server; on a cluster one SPUBLISH each (channels hash apart). */
export async function publishMany(
  r: FleetRedis,
  messages: ReadonlyArray<readonly [channel: string, message: string | Buffer]>,
): Promise<void> {
  if (messages.length === 0) return;
  if (isCluster(r)) {
    await Promise.all(messages.map(([c, m]) => r.spublish(c, m)));
    return;
  }
  const pipe = r.pipeline();
  for (const [c, m] of messages) pipe.publish(c, m);
  const res = await pipe.exec();
  const failed = res?.find(([err]) => err);
  if (failed) throw failed[0];
}

/**
 * Subscribes to channels that share one hash tag (keys.ts gatewayTag): SSUBSCRIBE on a cluster,
 * SUBSCRIBE otherwise. Pair with onMessage().
 */
export async function subscribe(r: FleetRedis, ...channels: string[]): Promise<void> {
  if (isCluster(r)) await r.ssubscribe(...channels);
  else await r.subscribe(...channels);
}

/** Message listener for subscribe(): 'smessage' on a cluster, 'message' otherwise. */
export function onMessage(r: FleetRedis, listener: (channel: string, message: string) => void): void {
  r.on(isCluster(r) ? 'smessage' : 'message', listener);
}
