import { PERSISTER_GROUP } from '@fleet/protocol';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPersisterMetrics } from '../src/metrics.js';
import { sampleBacklog } from '../src/monitor.js';
import { type Harness, harness } from './harness.js';

// fleet_stream_backlog_age_seconds (the FleetBacklogAge alert) on a real Redis stream and group, sampled by
// sampleBacklog as the persister's monitoring timer does: the age of the oldest entry the group has not
// acknowledged, whether still undelivered or delivered and pending; 0 once everything is acknowledged.
// Entries are appended with explicit ids in the past (an id's first part is the append time in ms).
// Mutations tried: the age read from the first entry of the whole stream (XRANGE from `-`): the case failed
// at "after the first is acknowledged" (still the first entry's age); the age from the successor of the last
// delivered id, ignoring the pending ones: it failed at "delivered, not acknowledged" (0).
describe('fleet_stream_backlog_age_seconds', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness('backlog_age');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('is the age of the oldest unacknowledged entry, 0 when none', async () => {
    const stream = h.keys.ingestStream(0);
    const metrics = createPersisterMetrics(h.cfg, new Registry());
    const age = async () => {
      await sampleBacklog(h.redis, [], h.keys, metrics);
      return (await metrics.streamBacklogAge.get()).values.find((v) => v.labels.stream === stream)?.value;
    };
    /** The sampled age is that of the entry appended at `ms`: between the clock before and after sampling. */
    const expectAgeOf = async (ms: number) => {
      const before = Date.now();
      const value = (await age())!;
      expect(value).toBeGreaterThanOrEqual((before - ms) / 1_000);
      expect(value).toBeLessThanOrEqual((Date.now() - ms) / 1_000);
    };
    const now = Date.now();
    const oldMs = now - 600_000;
    const newerMs = now - 60_000;
    await h.redis.xgroup('CREATE', stream, PERSISTER_GROUP, '0', 'MKSTREAM');
    expect(await age()).toBe(0);

    await h.redis.xadd(stream, `${oldMs}-0`, 'x', '1');
    await h.redis.xadd(stream, `${newerMs}-0`, 'x', '2');
    // Not delivered yet: the oldest entry's age.
    await expectAgeOf(oldMs);

    // Delivered and not acknowledged: the same entry, now pending.
    await h.redis.xreadgroup('GROUP', PERSISTER_GROUP, 'c1', 'COUNT', 10, 'STREAMS', stream, '>');
    await expectAgeOf(oldMs);

    // After the first is acknowledged: the second's age.
    await h.redis.xack(stream, PERSISTER_GROUP, `${oldMs}-0`);
    await expectAgeOf(newerMs);

    await h.redis.xack(stream, PERSISTER_GROUP, `${newerMs}-0`);
    expect(await age()).toBe(0);
  });
});
