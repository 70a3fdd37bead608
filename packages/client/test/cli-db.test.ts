// `fleet db status` and `fleet db migrate` (the real bin, a separate process) against a fresh database of
// the test harness: status before migrating lists every migration as pending, migrate applies them (then
// nothing), status shows each with when it was applied, --json gives one object per migration, and a
// migration the database has but this version does not know is marked.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type FreshDatabase, freshDatabase, testTempDir } from '../../../test/helpers/services.js';
import { migrationNames } from '../../store/src/migrate.js';
import { createPool } from '../../store/src/pool.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../bin/fleet.js', import.meta.url));

describe('fleet db migrate | status', () => {
  let db: FreshDatabase;
  let config: string;
  let names: string[];

  async function fleet(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    // FLEET_DATABASE_URL of the test run would override the config file's own database.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FLEET_')));
    try {
      const { stdout, stderr } = await run(process.execPath, [BIN, 'db', ...args, '--config', config], {
        env,
      });
      return { code: 0, stdout, stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    }
  }

  const onePool = () =>
    createPool(
      db.url,
      { min_connections: 0, max_connections: 1, idle_timeout_s: 1 },
      { applicationName: 'test' },
    );

  beforeAll(async () => {
    db = await freshDatabase('db_cli');
    names = await migrationNames();
    config = join(await testTempDir('dbcli'), 'fleet.yaml');
    await writeFile(config, stringify({ messaging_system: { database: { connection_string: db.url } } }));
  });
  afterAll(async () => db?.drop());

  it('status on a fresh database: every migration pending, nothing created', async () => {
    const r = await fleet(['status']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^MIGRATION +APPLIED AT$/);
    expect(lines.slice(1).map((l) => l.split(/ +/))).toEqual(names.map((n) => [n, 'pending']));
    expect(r.stderr).toMatch(new RegExp(`^${names.length} pending migration\\(s\\): run fleet db migrate`));
    const pool = onePool();
    expect((await pool.query("SELECT to_regclass('fleet_migrations') AS t")).rows[0].t).toBeNull();
    await pool.end();
  });

  it('migrate applies them once; status then shows when each was applied', async () => {
    const first = await fleet(['migrate']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout.trim()).toBe(`applied ${names.length} migration(s): ${names.join(', ')}`);
    // Mutation tried: db.ts's migrate replaced by `[]` (nothing run) -> the line above read "nothing to
    // apply" and this test failed.
    expect((await fleet(['migrate'])).stdout.trim()).toBe('nothing to apply: the schema is current');

    const r = await fleet(['status']);
    const rows = r.stdout.trimEnd().split('\n').slice(1);
    expect(rows.map((l) => l.split(/ +/)[0])).toEqual(names);
    for (const l of rows) expect(l).toMatch(/ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(r.stderr.trim()).toBe(`schema current (${names.length} migration(s) applied)`);
  });

  it('--json: one object per migration; a migration unknown to this version is marked', async () => {
    const pool = onePool();
    await pool.query(
      "INSERT INTO fleet_migrations (name, run_on) VALUES ('9999999999999_from-the-future', now())",
    );
    await pool.end();
    const r = await fleet(['status', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { name: string; state: string; appliedAt: string | null });
    expect(rows.map((m) => [m.name, m.state])).toEqual([
      ...names.map((n) => [n, 'applied']),
      ['9999999999999_from-the-future', 'unknown'],
    ]);
    expect(rows.every((m) => m.appliedAt !== null && !Number.isNaN(Date.parse(m.appliedAt)))).toBe(true);
    expect((await fleet(['status'])).stdout).toMatch(
      /9999999999999_from-the-future +\S+ \(unknown to this version\)\n$/,
    );
  });

  it("partitions: the message log's partitions, the current one and two created ahead", async () => {
    const r = await fleet(['partitions']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^PARTITION +FIRST SEQ +OPENED +CLOSED +EST\. ROWS$/);
    expect(lines.slice(1).map((l) => l.split(/ {2,}/).slice(0, 2))).toEqual([
      ['messages_p0', 'MINVALUE'],
      ['messages_p1', String(2 ** 36)],
      ['messages_p2', String(2 ** 37)],
    ]);
    expect(lines[1]).toMatch(/ \d{4}-\d\d-\d\dT\S+Z +- /);
    expect(lines[2]).toMatch(/ - +\(created ahead\) /);
    const json = (await fleet(['partitions', '--json'])).stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { n: number; openedAt: string | null });
    expect(json.map((p) => [p.n, p.openedAt !== null])).toEqual([
      [0, true],
      [1, false],
      [2, false],
    ]);
  });

  it('usage errors are one line and exit 2', async () => {
    const r = await fleet(['rollback']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'fleet db: unknown subcommand "rollback" (migrate, status, partitions) (see fleet db --help)',
    );
  });
});
