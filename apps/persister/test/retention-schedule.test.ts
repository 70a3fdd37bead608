import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ageLog, rollLog } from '../../../packages/store/test/fixtures.js';
import { type Persister, startPersister } from '../src/persister.js';
import { count, type Harness, harness, memoryLogger, publish, waitUntil } from './harness.js';

// The retention timer of a running persister, and its live reload: a new retention.interval_s applies to
// the wait already under way (an interval cut from an hour to 10 s must not wait out the hour), and new max
// ages apply from the next run. Retention drops whole partitions of the message log.
describe('persister: the retention scheduler follows a reloaded config', () => {
  let h: Harness;
  let p: Persister;

  beforeAll(async () => {
    h = await harness('retention_sched', {
      retention: { interval_s: 3_600, completed_max_age_s: 86_400, dead_max_age_s: 86_400 },
    });
    p = await startPersister(h.cfg, { logger: memoryLogger(), ops: false, consumerName: 'ret-a' });
  });
  afterAll(async () => {
    await p?.close();
    await h?.close();
  });

  it('deletes expired rows on the reloaded interval, keeping rows younger than the reloaded max age', async () => {
    const old = Array.from({ length: 20 }, (_, i) => `ret-old-${i}`);
    const young = Array.from({ length: 5 }, (_, i) => `ret-young-${i}`);
    // The old rows in a partition closed 2 hours ago, the young ones in the current partition.
    await publish(h, old);
    await waitUntil(
      async () => (await count(h, 'SELECT count(*) AS n FROM messages')) === 20,
      20_000,
      'old rows',
    );
    await rollLog(h.pool);
    await ageLog(h.pool, 2 * 3_600);
    await publish(h, young);
    await waitUntil(
      async () => (await count(h, 'SELECT count(*) AS n FROM messages')) === 25,
      20_000,
      'rows',
    );
    await p.store.queue.markCompleted([...old, ...young]);
    // Mutation checked: without reconfigure() rescheduling the timers (every().reschedule), the first
    // retention run stays an hour away and this times out.
    p.reconfigure({
      ...h.cfg,
      retention: { ...h.cfg.retention, interval_s: 10, completed_max_age_s: 3_600 },
    });
    await waitUntil(
      async () => (await count(h, "SELECT count(*) AS n FROM messages WHERE id LIKE 'ret-old-%'")) === 0,
      40_000,
      'old rows deleted',
    );
    expect(await count(h, "SELECT count(*) AS n FROM messages WHERE id LIKE 'ret-young-%'")).toBe(5);
  }, 60_000);
});
