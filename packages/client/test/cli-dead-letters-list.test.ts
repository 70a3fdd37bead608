// `fleet dead-letters list` (the real bin, a separate process) against a migrated database of its own: a
// table with a header on stdout, the TRUE total on stderr even when the page shows fewer rows, and
// --json lines for scripts. Before issue 19 the summary counted the rows printed (the page, at most
// --limit), so 134,256 dead letters read as "1 dead letter(s)" with --limit 1.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { cleanupRedisPrefix, redisUrl, testTempDir, uniquePrefix } from '../../../test/helpers/services.js';
import { forceStatus, messages, migratedDatabase, type QueueDb } from '../../store/test/fixtures.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../bin/fleet.js', import.meta.url));

describe('fleet dead-letters list', () => {
  let db: QueueDb;
  let config: string;
  const prefix = uniquePrefix('dlcli');

  async function fleet(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    // FLEET_DATABASE_URL / FLEET_REDIS_URL of the test run would override the config file's own database.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FLEET_')));
    try {
      const { stdout, stderr } = await run(
        process.execPath,
        [BIN, 'dead-letters', ...args, '--config', config],
        {
          env,
        },
      );
      return { code: 0, stdout, stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    }
  }

  beforeAll(async () => {
    db = await migratedDatabase('dl_cli');
    config = join(await testTempDir('dlcli'), 'fleet.yaml');
    await writeFile(
      config,
      stringify({
        messaging_system: {
          redis: { url: redisUrl(), key_prefix: prefix },
          database: { connection_string: db.url },
        },
      }),
    );
    const a = messages(130, { topic: 'billing.paid' });
    const b = messages(4, { topic: 'other.topic' });
    await db.store.persistBatch([...a, ...b], []);
    await forceStatus(db.pool, 'all', 'DEAD', { lastError: 'no handler\nfor topic', retryCount: 3 });
  });
  afterAll(async () => {
    await db?.close();
    await cleanupRedisPrefix(prefix);
  });

  it('prints a header and aligned columns, and the true total past the page (--limit)', async () => {
    // Mutation tried: summary from rows.length (the page) instead of countDeadLetters -> "100 dead
    // letters" and "1 dead letter": this test failed.
    const r = await fleet(['list']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(101);
    expect(lines[0]).toMatch(/^ID +TOPIC +RETRIES +DEAD SINCE +LAST ERROR$/);
    // Aligned: every column starts where its header does.
    const at = ['TOPIC', 'RETRIES', 'DEAD SINCE', 'LAST ERROR'].map((h) => lines[0]!.indexOf(h));
    for (const line of lines.slice(1)) {
      for (const col of at) expect(line[col - 1]).toBe(' ');
      expect(line.slice(at[1]!).split(/ {2,}/)[0]).toBe('3');
      expect(line.slice(at[3]!)).toBe('no handler for topic');
    }
    expect(r.stderr.trim()).toBe('134 dead letters; showing the 100 most recent (--limit N for more)');

    const one = await fleet(['list', '--limit', '1']);
    expect(one.stderr.trim()).toBe('134 dead letters; showing the 1 most recent (--limit N for more)');
    const topic = await fleet(['list', '--topic', 'other.topic']);
    expect(topic.stdout.trimEnd().split('\n')).toHaveLength(5);
    expect(topic.stderr.trim()).toBe('4 dead letters on topic other.topic');
  });

  it('--json: one object per line, every row, no table', async () => {
    const r = await fleet(['list', '--json', '--limit', '200']);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; topic: string; retryCount: number });
    expect(rows).toHaveLength(134);
    expect(rows.filter((x) => x.topic === 'other.topic')).toHaveLength(4);
    expect(r.stderr.trim()).toBe('134 dead letters');
  });

  it('a slow reader still gets every line: the bin flushes stdout before it exits', async () => {
    // The JSON lines (~85 KB) pass a pipe's 64 KiB buffer, and Node queues what the pipe does not take.
    // The reader here (a shell pipeline: Node's own child pipes read eagerly) takes nothing until the
    // summary is on stderr, and then half a second more. Mutation tried: bin/fleet.js calling
    // process.exit without waiting for the flush -> 103 of 134 rows (the CI failure that found it on a
    // loaded box): this test failed.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FLEET_')));
    const err = join(await testTempDir('dlcli-slow'), 'stderr');
    const { stdout } = await run(
      'bash',
      [
        '-o',
        'pipefail',
        '-c',
        '"$0" "$1" dead-letters list --json --limit 200 --config "$2" 2>"$3" | ' +
          '{ until grep -q "dead letters" "$3" 2>/dev/null; do sleep 0.05; done; sleep 0.5; cat; }',
        process.execPath,
        BIN,
        config,
        err,
      ],
      { env, maxBuffer: 16 * 1024 * 1024 },
    );
    expect(stdout.length).toBeGreaterThan(64 * 1024);
    const ids = stdout
      .trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as { id: string }).id);
    expect(new Set(ids).size).toBe(134);
    expect((await readFile(err, 'utf8')).trim()).toBe('134 dead letters');
  });
});
