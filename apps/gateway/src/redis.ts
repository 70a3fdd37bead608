import { Redis, type RedisOptions } from 'ioredis';

const CONNECT_TIMEOUT_MS = 2_000;
/** Reconnect delay: this much more per attempt, up to RECONNECT_MAX_MS (an outage is retried quickly). */
const RECONNECT_STEP_MS = 50;
const RECONNECT_MAX_MS = 500;
const reconnectDelay = (times: number) => Math.min(RECONNECT_STEP_MS * times, RECONNECT_MAX_MS);

/**
 * Fail fast instead of queueing: no offline queue, in-flight commands rejected when the connection drops
 * (maxRetriesPerRequest 0, no resend), a command timeout for a Redis that hangs. Reconnects by itself.
 * The hot path turns any failure into ERROR UNAVAILABLE; a message is ACKed only after its XADD succeeded.
 */
export function commandRedisOptions(commandTimeoutMs: number): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: reconnectDelay,
  };
}

export function createCommandRedis(url: string, commandTimeoutMs: number): Redis {
  return new Redis(url, commandRedisOptions(commandTimeoutMs));
}

/** Separate connection for SUBSCRIBE (replies, durable commits); resubscribes by itself after a reconnect. */
export function createSubscriberRedis(url: string): Redis {
  return new Redis(url, {
    lazyConnect: true,
    autoResubscribe: true,
    maxRetriesPerRequest: null,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: reconnectDelay,
  });
}

/** Resolves when `redis` is ready or after `ms` (the gateway starts anyway and answers UNAVAILABLE meanwhile). */
export function waitReady(redis: Redis, ms: number): Promise<boolean> {
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
