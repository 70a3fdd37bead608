import type { ClusterOptions, RedisOptions } from 'ioredis';

export type RedisMode = 'standalone' | 'cluster';

/** The `redis` config section as far as connecting goes (a subset of @fleet/config's FleetConfig['redis']). */
export interface RedisConnConfig {
  url: string;
  mode: RedisMode;
  nodes: readonly string[];
  nat_map: Readonly<Record<string, string>>;
}

/**
 * What a connection is for; each role has the options it needs:
 * - command: the gateway's hot path: fail fast instead of queueing (no offline queue, in-flight commands
 *   rejected when the connection drops, a command timeout), reconnect quickly by itself.
 * - subscriber: pub/sub; resubscribes after a reconnect.
 * - blocking: a stream reader's own connection (a blocking read holds it); one retry per command.
 * - queue: BullMQ (it requires maxRetriesPerRequest null on its connections).
 * - admin: everything else (side commands, CLI, tests): one retry per command.
 */
export type RedisRole = 'command' | 'subscriber' | 'blocking' | 'queue' | 'admin';

export const CONNECT_TIMEOUT_MS = 2_000;
/** Reconnect delay: this much more per attempt, up to RECONNECT_MAX_MS (an outage is retried quickly). */
const RECONNECT_STEP_MS = 50;
const RECONNECT_MAX_MS = 500;
export const reconnectDelay = (times: number) => Math.min(RECONNECT_STEP_MS * times, RECONNECT_MAX_MS);

export interface RoleOptions {
  /** command role: command timeout in ms. */
  commandTimeoutMs?: number;
  /** Extra ioredis options (per node on a cluster). */
  redis?: RedisOptions;
}

/** Per-connection ioredis options of a role (standalone client, or each node of a cluster). */
export function roleRedisOptions(role: RedisRole, opts: RoleOptions = {}): RedisOptions {
  switch (role) {
    case 'command':
      return {
        lazyConnect: true,
        enableOfflineQueue: false,
        autoResendUnfulfilledCommands: false,
        maxRetriesPerRequest: 0,
        ...(opts.commandTimeoutMs !== undefined ? { commandTimeout: opts.commandTimeoutMs } : {}),
        connectTimeout: CONNECT_TIMEOUT_MS,
        retryStrategy: reconnectDelay,
      };
    case 'subscriber':
      return {
        lazyConnect: true,
        autoResubscribe: true,
        maxRetriesPerRequest: null,
        connectTimeout: CONNECT_TIMEOUT_MS,
        retryStrategy: reconnectDelay,
      };
    case 'queue':
      return { maxRetriesPerRequest: null, connectTimeout: 5_000 };
    case 'blocking':
    case 'admin':
      return { maxRetriesPerRequest: 1 };
  }
}

/**
 * Cluster-level options of a role. MOVED/ASK are followed by ioredis (refreshing its slot map). During a
 * master failover the surviving masters answer MOVED pointing at the dead one until its replica is promoted,
 * and commands to it fail with a closed connection; then, with the default full coverage, CLUSTERDOWN.
 * Every role but `command` waits that out inside ioredis: each of those answers is retried after a delay
 * (100-200 ms), up to 32 times (~5 s), after which the caller's own retry loop takes over (persister
 * loops, the worker's outcome retry, BullMQ's). `command` (the gateway's hot path) fails fast instead:
 * a few immediate redirections, then the client is answered UNAVAILABLE and resends.
 */
export function roleClusterOptions(role: RedisRole): ClusterOptions {
  const common: ClusterOptions = {
    slotsRefreshTimeout: CONNECT_TIMEOUT_MS,
    retryDelayOnMoved: 100,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 100,
    maxRedirections: 32,
    clusterRetryStrategy: (times: number) => reconnectDelay(times),
  };
  switch (role) {
    case 'command':
      // One quick retry round for a redirect; no offline queue: a command is sent now or fails now.
      return {
        ...common,
        lazyConnect: true,
        enableOfflineQueue: false,
        retryDelayOnMoved: 0,
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        maxRedirections: 4,
      };
    case 'subscriber':
      return { ...common, lazyConnect: true, shardedSubscribers: true };
    case 'queue':
      // No ready check (CLUSTER INFO after the slot refresh): when it meets cluster_state:fail (a master
      // failover under way) ioredis reconnects and never settles the promise connect() returned, and BullMQ
      // awaits connect() when it resets a Worker's blocking connection (its BZPOPMIN watchdog): that
      // Worker then waits forever and its shard queue is never consumed again. Without the check
      // connect() settles at the slot refresh; a command meeting CLUSTERDOWN is retried as above.
      return { ...common, enableReadyCheck: false };
    case 'blocking':
    case 'admin':
      return common;
  }
}

/** host:port seeds and per-node auth/TLS from a redis:// or rediss:// URL. */
export interface ParsedUrl {
  host: string;
  port: number;
  username?: string;
  password?: string;
  tls: boolean;
  db: number;
}

export function parseRedisUrl(url: string): ParsedUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`redis: not a URL: ${JSON.stringify(redact(url))}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new Error(`redis: URL scheme must be redis:// or rediss://, got ${u.protocol}`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  return {
    host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    tls: u.protocol === 'rediss:',
    db: Number.isInteger(db) ? db : 0,
  };
}

/** A URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** ioredis natMap from the config's "host:port" -> "host:port" map. */
export function natMapOf(
  map: Readonly<Record<string, string>>,
): Record<string, { host: string; port: number }> {
  const out: Record<string, { host: string; port: number }> = {};
  for (const [from, to] of Object.entries(map)) {
    const i = to.lastIndexOf(':');
    out[from] = { host: to.slice(0, i), port: Number(to.slice(i + 1)) };
  }
  return out;
}
