import { encodeDurableIds, type FleetKeys } from '@fleet/protocol';
import type { Redis } from 'ioredis';

/**
 * Tells gateways that `durable` publishes are committed: one PUBLISH per gateway per batch on its durable
 * channel, sent after the Postgres commit (duplicates already in Postgres included: they are durable too).
 */
export async function notifyDurable(
  redis: Redis,
  keys: FleetKeys,
  byGateway: Map<string, string[]>,
): Promise<void> {
  if (byGateway.size === 0) return;
  const pipe = redis.pipeline();
  for (const [gatewayId, ids] of byGateway)
    pipe.publish(keys.durableChannel(gatewayId), encodeDurableIds(ids));
  const results = await pipe.exec();
  for (const [err] of results ?? []) if (err) throw err;
}
