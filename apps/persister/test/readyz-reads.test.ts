import { type PrivateRedis, startPrivateRedis } from '@fleet/services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Persister, startPersister } from '../src/persister.js';
import { type Harness, harness, memoryLogger, publish, waitUntil } from './harness.js';

// A standalone persister on a redis-server of its own, killed and restarted: /readyz lists `stream-reads`
// while the reads keep failing and is ready again once they succeed. (The cluster variant, where only one
// shard's reads fail while Redis answers PING, is in cluster.test.ts.)
// The restarted server has no AOF: its streams and consumer groups are gone, so the reads answer NOGROUP
// (the claim pass "no such key") until the readers create them again.
// Mutations checked: with StreamGroupReader recording no failed read (`this.readFailedAt[pipeline] =
// Date.now()` removed), /readyz never listed `stream-reads`; without the readers re-creating a missing
// group (recreateGroups), the reads failed with NOGROUP for good and /readyz stayed 503 (that is how this
// test found the gap). fleet_persister_ready (what the FleetPersisterNotReady alert reads) follows /readyz:
// with the monitoring timer setting it to 1 whatever readiness() says, the case failed at "gauge 0".
describe('/readyz follows the stream reads (standalone)', () => {
  let redis: PrivateRedis;
  let h: Harness;
  let p: Persister;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    h = await harness('readyz_reads', { redis: { url: redis.url }, monitoring: { interval_ms: 200 } });
    p = await startPersister(h.cfg, { logger: memoryLogger(), consumerName: 'rr-a', opsPort: 0 });
  });
  afterAll(async () => {
    await p?.close();
    await h?.close();
    await redis?.dispose();
  });

  const readyz = async () => {
    const res = await fetch(`${p.opsUrl}/readyz`);
    return { code: res.status, failing: ((await res.json()) as { failing?: string[] }).failing ?? [] };
  };
  const readyGauge = async () => {
    const text = await (await fetch(`${p.opsUrl}/metrics`)).text();
    return Number(/^fleet_persister_ready(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1]);
  };

  it('not ready while Redis is gone, ready again after it is back', async () => {
    await waitUntil(async () => (await readyz()).code === 200, 10_000, 'ready');
    await waitUntil(async () => (await readyGauge()) === 1, 10_000, 'gauge 1');
    await redis.kill();
    await waitUntil(
      async () => (await readyz()).failing.includes('stream-reads'),
      15_000,
      'stream-reads failing',
    );
    expect((await readyz()).code).toBe(503);
    await waitUntil(async () => (await readyGauge()) === 0, 15_000, 'gauge 0');
    await redis.restart();
    await waitUntil(async () => (await readyz()).code === 200, 20_000, 'ready again');
    await waitUntil(async () => (await readyGauge()) === 1, 15_000, 'gauge 1 again');
    // Reading again: a message appended now is persisted.
    await publish(h, ['rr-after']);
    await waitUntil(
      async () =>
        Number((await h.pool.query("SELECT count(*) AS n FROM messages WHERE id = 'rr-after'")).rows[0].n) ===
        1,
      15_000,
      'row after the restart',
    );
  });
});
