import { migrate } from '@fleet/store';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { AUTOVACUUM_WARNING, autovacuumCase, autovacuumGauge } from './autovacuum-support.js';

// Autovacuum on for the server (a Postgres of its own), off for two of the fleet's tables by reloption.
// Mutation tried: autovacuum_state.sql matching option_value = 'false' instead of reading it as a boolean:
// messages_open's `off` went unseen and this case failed.
describe('autovacuum_enabled = false on a table of the message log', () => {
  const c = autovacuumCase('autovac_table', { autovacuum: 'on', track_counts: 'on' });

  it('the persister warns once, naming messages_open and the partition, and serves the gauge as 0', async () => {
    await migrate(c.url());
    const admin = new pg.Client({ connectionString: c.url() });
    await admin.connect();
    try {
      // Two spellings of false: Postgres keeps the reloption as written.
      await admin.query('ALTER TABLE messages_open SET (autovacuum_enabled = off)');
      await admin.query('ALTER TABLE messages_p0 SET (autovacuum_enabled = false)');
    } finally {
      await admin.end();
    }
    const p = await c.start();
    expect(await autovacuumGauge(p)).toBe(0);
    const warnings = c.log.lines.filter((l) => AUTOVACUUM_WARNING.test(l.msg));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.obj).toEqual({
      off: ['messages_open autovacuum_enabled=false', 'messages_p0 autovacuum_enabled=false'],
    });
    expect(warnings[0]!.msg).toContain('messages_open autovacuum_enabled=false');
  }, 60_000);
});
