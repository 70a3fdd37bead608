import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';

const XADD_BATCH_LUA = readFileSync(new URL('./scripts/xadd-batch.lua', import.meta.url), 'utf8');
/** SHA1 of xadd-batch.lua: the hot path sends EVALSHA itself (resp.ts); defineCommand covers NOSCRIPT. */
export const XADD_BATCH_SHA = createHash('sha1').update(XADD_BATCH_LUA).digest('hex');

/** ioredis with the gateway's named scripts (BullMQ-style: each atomic Redis operation is one script). */
export type GatewayRedis = Redis & {
  xaddBatch(
    key: string,
    args: Array<string | Buffer>,
    cb: (err: Error | null | undefined, ids?: string[]) => void,
  ): void;
};

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
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(50 * times, 500),
  };
}

export function createCommandRedis(url: string, commandTimeoutMs: number): GatewayRedis {
  const redis = new Redis(url, commandRedisOptions(commandTimeoutMs)) as GatewayRedis;
  redis.defineCommand('xaddBatch', { numberOfKeys: 1, lua: XADD_BATCH_LUA });
  return redis;
}

/** Separate connection for SUBSCRIBE (replies, durable commits); resubscribes by itself after a reconnect. */
export function createSubscriberRedis(url: string): Redis {
  return new Redis(url, {
    lazyConnect: true,
    autoResubscribe: true,
    maxRetriesPerRequest: null,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(50 * times, 500),
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
