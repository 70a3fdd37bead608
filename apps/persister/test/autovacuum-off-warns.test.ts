import { type PrivatePostgres, startPrivatePostgres } from '@fleet/services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Persister, startPersister } from '../src/persister.js';
import { AUTOVACUUM_WARNING, autovacuumGauge } from './autovacuum-support.js';
import { type Harness, harness, memoryLogger, testConfig } from './harness.js';

// A Postgres of its own with autovacuum off (as this machine's shared one), so the case holds wherever it runs.
// Mutations tried: the autovacuum setting left out of autovacuumBlockers, and the gauge always set to 1:
// each failed this case (gauge 1, expected 0).
describe('autovacuum off', () => {
  let h: Harness;
  let pgPrivate: PrivatePostgres;
  let p: Persister;
  const log = memoryLogger();

  beforeAll(async () => {
    h = await harness('autovac_off');
    pgPrivate = await startPrivatePostgres({ settings: { autovacuum: 'off', track_counts: 'on' } });
  }, 120_000);
  afterAll(async () => {
    await p?.close();
    await pgPrivate?.dispose();
    await h?.close();
  });

  it('the persister warns once, naming the setting, and serves the gauge as 0', async () => {
    const cfg = testConfig(h.cfg.redis.key_prefix, pgPrivate.url, 2, {});
    p = await startPersister(cfg, { logger: log, ops: false, consumerName: 'autovac-off' });
    expect(await autovacuumGauge(p)).toBe(0);
    // Still one after a sweep and the persister's timers have had their turn: checked at start only.
    await p.sweepNow();
    await new Promise((r) => setTimeout(r, 500));
    const warnings = log.lines.filter((l) => AUTOVACUUM_WARNING.test(l.msg));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.level).toBe('warn');
    expect(warnings[0]!.obj).toEqual({ off: ['autovacuum=off'] });
    expect(warnings[0]!.msg).toContain('(autovacuum=off)');
    expect(warnings[0]!.msg).toContain('docs/operations.md');
  }, 60_000);
});
