import { PERSISTER_GROUP } from '@fleet/protocol';
import { type PrivatePostgres, startPrivatePostgres } from '@fleet/services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Persister, startPersister } from '../src/persister.js';
import { groupState } from '../src/redis-streams.js';
import { type Harness, harness, memoryLogger, publish, testConfig, waitUntil } from './harness.js';

describe('Postgres unreachable under load', () => {
  let h: Harness;
  let pgPrivate: PrivatePostgres;
  let p: Persister;
  const log = memoryLogger();

  beforeAll(async () => {
    h = await harness('outage');
    pgPrivate = await startPrivatePostgres();
  }, 120_000);
  afterAll(async () => {
    await p?.close();
    await pgPrivate?.dispose();
    await h?.close();
  });

  const rows = async () => Number((await p.pool.query('SELECT count(*) AS n FROM messages')).rows[0].n);

  it('stops acknowledging, logs one line down and one line up, resumes, loses nothing', async () => {
    const cfg = testConfig(h.cfg.redis.key_prefix, pgPrivate.url, 4, { streams: { read_count: 100 } });
    p = await startPersister(cfg, { logger: log, ops: false, consumerName: 'outage-a' });
    await publish(
      h,
      Array.from({ length: 300 }, (_, i) => `before-${i}`),
    );
    await waitUntil(async () => (await rows()) === 300, 20_000, 'rows before');

    await pgPrivate.stop();
    // The gateway keeps appending meanwhile.
    for (let round = 0; round < 10; round++) {
      await publish(
        h,
        Array.from({ length: 200 }, (_, i) => `during-${round}-${i}`),
      );
      await new Promise((r) => setTimeout(r, 200));
    }
    const stream = h.keys.ingestStream(0);
    const st = await groupState(h.redis, stream, PERSISTER_GROUP);
    // One batch in hand per pipeline at most (2 x read_count messages = 2 entries of 100), the rest left in
    // the stream: not pulled into memory, not acknowledged. (Pending and lag count entries.)
    expect(st?.pending).toBeLessThanOrEqual(2);
    expect(st?.lag).toBeGreaterThanOrEqual(18);
    const down = log.lines.filter((l) => /postgres unavailable/.test(l.msg));
    expect(down.length).toBe(1);

    await pgPrivate.start();
    await waitUntil(async () => (await rows().catch(() => 0)) === 2_300, 60_000, 'all rows after recovery');
    await waitUntil(
      async () => (await groupState(h.redis, stream, PERSISTER_GROUP))?.pending === 0,
      10_000,
      'acks',
    );
    expect(log.lines.filter((l) => /postgres unavailable/.test(l.msg)).length).toBe(1);
    expect(log.lines.filter((l) => /postgres available again/.test(l.msg)).length).toBe(1);
    expect(Number((await p.pool.query('SELECT count(DISTINCT id) AS n FROM messages')).rows[0].n)).toBe(
      2_300,
    );
  }, 150_000);
});
