// Test key clean-up on a Redis Cluster (test/helpers/services.ts cleanupRedisPrefix): every key of a fleet,
// spread over the masters by the shard tags, is deleted on every master, and the global teardown's run
// prefix (that every fleet prefix of the run starts with) takes all of them; another run's keys stay.
import { FleetKeys } from '@fleet/protocol';
import { createRedis, type FleetRedis, masters } from '@fleet/redis';
import { type PrivateRedisCluster, startPrivateRedisCluster } from '@fleet/services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterRedis } from '../helpers/config.js';
import { runRedisPrefix } from '../helpers/run-env.js';
import { cleanupRedisPrefix, redisConnConfig, runId, uniquePrefix } from '../helpers/services.js';

let cluster: PrivateRedisCluster;
let redis: FleetRedis;

beforeAll(async () => {
  cluster = await startPrivateRedisCluster();
  redis = createRedis(redisConnConfig(clusterRedis(cluster)), 'admin');
}, 60_000);

afterAll(async () => {
  redis?.disconnect();
  await cluster?.dispose();
});

/** Every kind of key a fleet of `shards` shards writes (one per shard and kind, plus liveness). */
function fleetKeys(prefix: string, shards: number): string[] {
  const k = new FleetKeys(prefix, shards);
  return [
    ...k
      .shardList()
      .flatMap((n) => [k.ingestStream(n), k.statusStream(n), `${k.bullPrefix(n)}:messages:wait`]),
    k.persisterAlive('p1'),
    k.persisterRegistry(),
  ];
}

async function keysPerMaster(): Promise<number[]> {
  return Promise.all(masters(redis).map((m) => m.dbsize()));
}

describe('cleanupRedisPrefix on a cluster', () => {
  it('deletes a fleet key of every shard on every master, and only that fleet', async () => {
    const prefix = uniquePrefix('cluster-clean');
    const other = uniquePrefix('cluster-clean');
    const mine = fleetKeys(prefix, 8);
    for (const key of [...mine, ...fleetKeys(other, 2)]) await redis.set(key, '1');
    // The shard tags spread the fleet over the masters: each holds some (else this proves less).
    expect((await keysPerMaster()).every((n) => n > 0)).toBe(true);
    expect(await cleanupRedisPrefix(prefix, clusterRedis(cluster))).toBe(mine.length);
    for (const key of mine) expect(await redis.exists(key)).toBe(0);
    expect(await cleanupRedisPrefix(other, clusterRedis(cluster))).toBe(fleetKeys(other, 2).length);
  }, 30_000);

  it("the run prefix takes every fleet of the run, not another run's keys", async () => {
    const a = fleetKeys(uniquePrefix('run-a'), 4);
    const b = fleetKeys(uniquePrefix('run-b'), 4);
    const stranger = fleetKeys(`${runRedisPrefix('0_other')}-x`, 2);
    for (const key of [...a, ...b, ...stranger]) await redis.set(key, '1');
    expect(await cleanupRedisPrefix(runRedisPrefix(runId()), clusterRedis(cluster))).toBe(
      a.length + b.length,
    );
    expect(await cleanupRedisPrefix(runRedisPrefix('0_other'), clusterRedis(cluster))).toBe(stranger.length);
    expect(await keysPerMaster()).toEqual([0, 0, 0]);
  }, 30_000);
});
