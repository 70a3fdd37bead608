import { type PrivateRedis, startPrivateRedis } from '@fleet/services';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A Redis of our own that the test may kill: AOF with fsync always keeps every acknowledged write.
describe('private Redis with AOF', () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await startPrivateRedis({ aof: true });
  });
  afterAll(() => redis?.dispose());

  function client(): Redis {
    const c = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => {});
    return c;
  }

  it('keeps every write across kill -9 and restart, on the same port', async () => {
    const before = client();
    await before.connect();
    for (let i = 0; i < 100; i++) await before.set(`k:${i}`, String(i));
    await before.xadd('s', '*', 'f', 'v');
    before.disconnect();

    await redis.kill();
    expect(redis.running).toBe(false);
    const down = client();
    await expect(down.connect()).rejects.toThrow();
    down.disconnect();

    const port = redis.port;
    await redis.restart();
    expect(redis.port).toBe(port);
    const after = client();
    await after.connect();
    try {
      expect(await after.dbsize()).toBe(101);
      expect(await after.get('k:99')).toBe('99');
      expect(await after.xlen('s')).toBe(1);
    } finally {
      after.disconnect();
    }
  });

  it('stops gracefully and restarts with the data', async () => {
    await redis.stop();
    await redis.restart();
    const c = client();
    await c.connect();
    try {
      expect(await c.get('k:0')).toBe('0');
    } finally {
      c.disconnect();
    }
  });
});
