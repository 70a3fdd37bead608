import { describe, expect, it } from 'vitest';
import { AUTOVACUUM_WARNING, autovacuumCase, autovacuumGauge } from './autovacuum-support.js';

// A Postgres of its own with autovacuum off (as this machine's shared one), so the case holds wherever it runs.
// Mutations tried: the autovacuum setting left out of autovacuumBlockers, and the gauge always set to 1:
// each failed this case (gauge 1, expected 0).
describe('autovacuum off', () => {
  const c = autovacuumCase('autovac_off', { autovacuum: 'off', track_counts: 'on' });

  it('the persister warns once, naming the setting, and serves the gauge as 0', async () => {
    const p = await c.start();
    expect(await autovacuumGauge(p)).toBe(0);
    // Still one after a sweep and the persister's timers have had their turn: checked at start only.
    await p.sweepNow();
    await new Promise((r) => setTimeout(r, 500));
    const warnings = c.log.lines.filter((l) => AUTOVACUUM_WARNING.test(l.msg));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.level).toBe('warn');
    expect(warnings[0]!.obj).toEqual({ off: ['autovacuum=off'] });
    expect(warnings[0]!.msg).toContain('(autovacuum=off)');
    expect(warnings[0]!.msg).toContain('docs/operations.md');
  }, 60_000);
});
