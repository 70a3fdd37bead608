import { describe, expect, it } from 'vitest';
import { AUTOVACUUM_WARNING, autovacuumCase, autovacuumGauge } from './autovacuum-support.js';

// A Postgres of its own with autovacuum on, whatever the shared server runs with.
describe('autovacuum on', () => {
  const c = autovacuumCase('autovac_on', { autovacuum: 'on', track_counts: 'on' });

  it('the persister starts without an autovacuum warning and serves the gauge as 1', async () => {
    const p = await c.start();
    expect(await autovacuumGauge(p)).toBe(1);
    expect(c.log.lines.filter((l) => AUTOVACUUM_WARNING.test(l.msg))).toEqual([]);
  }, 60_000);
});
