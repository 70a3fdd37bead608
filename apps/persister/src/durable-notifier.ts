import { encodeDurableIds, type FleetKeys } from '@fleet/protocol';
import { type FleetRedis, publishMany } from '@fleet/redis';

/**
 * Tells gateways that `durable` publishes are committed: one message per gateway per batch on its durable
 * channel, sent after the Postgres commit (duplicates already in Postgres included: they are durable too).
 * publishMany: one pipeline of PUBLISH on a standalone server, one SPUBLISH per gateway channel (its own
 * slot) on a cluster.
 */
export async function notifyDurable(
  redis: FleetRedis,
  keys: FleetKeys,
  byGateway: Map<string, string[]>,
): Promise<void> {
  if (byGateway.size === 0) return;
  await publishMany(
    redis,
    [...byGateway].map(
      ([gatewayId, ids]) => [keys.durableChannel(gatewayId), encodeDurableIds(ids)] as const,
    ),
  );
}
