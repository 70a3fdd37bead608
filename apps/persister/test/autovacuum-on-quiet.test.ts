import { type PrivatePostgres, startPrivatePostgres } from '@fleet/services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Persister, startPersister } from '../src/persister.js';
import { AUTOVACUUM_WARNING, autovacuumGauge } from './autovacuum-support.js';
import { type Harness, harness, memoryLogger, testConfig } from './harness.js';

// A Postgres of its own with autovacuum on, whatever the shared server runs with.
describe('autovacuum on', () => {
  let h: Harness;
  let pgPrivate: PrivatePostgres;
  let p: Persister;
  const log = memoryLogger();

  beforeAll(async () => {
    h = await harness('autovac_on');
    pgPrivate = await startPrivatePostgres({ settings: { autovacuum: 'on', track_counts: 'on' } });
  }, 120_000);
  afterAll(async () => {
    await p?.close();
    await pgPrivate?.dispose();
    await h?.close();
  });

  it('the persister starts without an autovacuum warning and serves the gauge as 1', async () => {
    const cfg = testConfig(h.cfg.redis.key_prefix, pgPrivate.url, 2, {});
    p = await startPersister(cfg, { logger: log, ops: false, consumerName: 'autovac-on' });
    expect(await autovacuumGauge(p)).toBe(1);
    expect(log.lines.filter((l) => AUTOVACUUM_WARNING.test(l.msg))).toEqual([]);
  }, 60_000);
});
