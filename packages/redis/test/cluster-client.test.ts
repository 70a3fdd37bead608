import { type PrivateRedisCluster, startPrivateRedisCluster } from '@fleet/services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisUrl } from '../../../test/helpers/services.js';
import {
  checkRedisMode,
  createRedis,
  deleteMatching,
  type FleetRedis,
  masters,
  onMessage,
  publish,
  RedisModeError,
  subscribe,
} from '../src/index.js';

// The factory against a real private Redis Cluster (3 masters, 1 replica each) and the shared standalone.
let cluster: PrivateRedisCluster;
const opened: FleetRedis[] = [];
const open = (r: FleetRedis) => {
  opened.push(r);
  return r;
};
const clusterCfg = () => ({
  url: cluster.urls[0]!,
  mode: 'cluster' as const,
  nodes: cluster.urls,
  nat_map: {},
});

beforeAll(async () => {
  cluster = await startPrivateRedisCluster();
});
afterAll(async () => {
  for (const r of opened) r.disconnect();
  await cluster?.dispose();
});

describe('createRedis in cluster mode', () => {
  it('routes keys of many slots and lists one connection per master', async () => {
    const r = open(createRedis(clusterCfg(), 'admin'));
    for (let i = 0; i < 50; i++) await r.set(`{t:s${i}}:k`, String(i));
    expect(await r.get('{t:s49}:k')).toBe('49');
    const ms = masters(r);
    expect(ms).toHaveLength(3);
    const counts = await Promise.all(ms.map((m) => m.dbsize()));
    expect(counts.every((c) => c > 0)).toBe(true); // 50 tags spread over all three masters
    expect(await deleteMatching(r, ['{t:*'])).toBe(50);
    expect((await Promise.all(ms.map((m) => m.dbsize()))).reduce((a, b) => a + b, 0)).toBe(0);
  });

  it('sharded pub/sub: SSUBSCRIBE to two channels of one tag hears SPUBLISH on both', async () => {
    const sub = open(createRedis(clusterCfg(), 'subscriber'));
    const pub = open(createRedis(clusterCfg(), 'admin'));
    const heard: string[] = [];
    onMessage(sub, (channel, message) => heard.push(`${channel}=${message}`));
    await subscribe(sub, '{f:g:gw1}:reply', '{f:g:gw1}:durable');
    await publish(pub, '{f:g:gw1}:reply', 'a');
    await publish(pub, '{f:g:gw1}:durable', 'b');
    const deadline = Date.now() + 5_000;
    while (heard.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(heard.sort()).toEqual(['{f:g:gw1}:durable=b', '{f:g:gw1}:reply=a']);
  });
});

describe('checkRedisMode', () => {
  it('a standalone config pointed at a cluster node fails with one line', async () => {
    const err = await checkRedisMode({ ...clusterCfg(), mode: 'standalone', nodes: [] }).catch((e) => e);
    expect(err).toBeInstanceOf(RedisModeError);
    expect(err.message).toMatch(/^redis\.mode is standalone but 127\.0\.0\.1:\d+ is a Redis Cluster node/);
    expect(err.message).not.toContain('\n');
  });

  it('a cluster config pointed at a standalone server fails with one line', async () => {
    const err = await checkRedisMode({ url: redisUrl(), mode: 'cluster', nodes: [], nat_map: {} }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(RedisModeError);
    expect(err.message).toMatch(/^redis\.mode is cluster but .* is a standalone Redis/);
  });

  it('matching modes pass; an unreachable seed is not an error (the app waits for Redis)', async () => {
    expect(await checkRedisMode(clusterCfg())).toBe(true);
    expect(await checkRedisMode({ url: redisUrl(), mode: 'standalone', nodes: [], nat_map: {} })).toBe(true);
    expect(
      await checkRedisMode({ url: 'redis://127.0.0.1:1', mode: 'standalone', nodes: [], nat_map: {} }, 300),
    ).toBe(false);
  });
});
