import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Persister, startPersister } from '../src/persister.js';
import {
  allJobs,
  bullQueues,
  count,
  type Harness,
  harness,
  memoryLogger,
  publish,
  waitUntil,
} from './harness.js';

async function enqueued(p: Persister): Promise<number> {
  return (await p.metrics.messagesEnqueued.get()).values[0]?.value ?? 0;
}

describe('two persisters share the load', () => {
  let h: Harness;
  let a: Persister;
  let b: Persister;
  let qs: Queue[];

  beforeAll(async () => {
    h = await harness('two', { streams: { shards: 2, read_count: 50 }, queue: { batch_size: 10 } });
    [a, b] = await Promise.all([
      startPersister(h.cfg, { logger: memoryLogger(), ops: false, consumerName: 'two-a' }),
      startPersister(h.cfg, { logger: memoryLogger(), ops: false, consumerName: 'two-b' }),
    ]);
    qs = bullQueues(h);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    for (const q of qs ?? []) await q.close();
    await h?.close();
  });

  it('every message persisted and enqueued exactly once, by both processes', async () => {
    const ids: string[] = [];
    for (let round = 0; round < 10; round++) {
      const batch = Array.from({ length: 200 }, (_, i) => `two-${round}-${i}`);
      ids.push(...batch);
      await publish(h, batch.slice(0, 100), { shard: 0 });
      await publish(h, batch.slice(100), { shard: 1 });
      // Resends of earlier ids land on the other shard: still one row each.
      if (round > 0) await publish(h, [`two-${round - 1}-0`, `two-${round - 1}-150`], { shard: round % 2 });
    }
    await waitUntil(
      async () => (await count(h, 'SELECT count(*) AS n FROM messages')) === ids.length,
      30_000,
      'rows',
    );
    await waitUntil(async () => (await enqueued(a)) + (await enqueued(b)) === ids.length, 10_000, 'enqueue');
    // One queue per shard: the jobs of both.
    const jobbed: string[] = [];
    for (const q of qs) jobbed.push(...(await allJobs(q)).flatMap((j) => j.ids));
    expect(jobbed.length).toBe(ids.length);
    expect(new Set(jobbed).size).toBe(ids.length);
    expect(await enqueued(a)).toBeGreaterThan(0);
    expect(await enqueued(b)).toBeGreaterThan(0);
  });
});
