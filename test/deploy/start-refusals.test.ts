// Each app run as a real process refuses a config it must not start with: exit code 2 and one line on
// stderr, never a stack trace, before it listens or connects anywhere.
// - An invalid file (one line naming the problem).
// - "Nothing writable beyond localhost without auth": an ops listener on a non-loopback address and no
//   ops.basic_auth. The rule's cases (public_metrics, allow_insecure, loopback forms) are unit-tested in
//   packages/config/test/exposure.test.ts.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeTestConfig } from '../helpers/config.js';
import { type AppName, type AppProcess, spawnApp } from '../helpers/processes.js';
import { testTempDir } from '../helpers/services.js';

const EXIT_MS = 60_000;
const APPS: AppName[] = ['gateway', 'persister', 'worker'];
const running: AppProcess[] = [];
afterAll(async () => {
  await Promise.all(running.map((a) => a.stop(5_000)));
});

/** Starts `app` on `config` and returns its exit code (or 'timeout') and its stderr lines. */
async function refusal(
  app: AppName,
  config: string,
): Promise<{ code: unknown; err: string[]; proc: AppProcess }> {
  const proc = spawnApp(app, { config });
  running.push(proc);
  const code = await Promise.race([
    proc.exited,
    new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), EXIT_MS).unref()),
  ]);
  return { code, err: proc.lines.filter((l) => l.startsWith(`[${app} err]`)), proc };
}

describe('apps refuse an invalid config in one line', () => {
  // Mutation checked: without the try/catch around the persister's ConfigWatcher (as before), the
  // persister printed a stack trace over many lines and exited 1: this test failed for it.
  it.each<AppName>(APPS)(
    '%s: an unknown key -> exit 2, one stderr line',
    async (app) => {
      const path = join(await testTempDir(`bad-config-${app}`), 'fleet.yaml');
      await writeFile(path, 'messaging_system:\n  network:\n    porrt: 7000\n');
      const { code, err, proc } = await refusal(app, path);
      expect(code, proc.output()).toBe(2);
      expect(err, proc.output()).toHaveLength(1);
      expect(err[0]).toMatch(/porrt/);
    },
    EXIT_MS + 10_000,
  );
});

describe('apps refuse to start with an open ops listener', () => {
  // Mutation tried: the `if (unsafe)` exit removed from apps/worker/src/main.ts: the worker went on to
  // dial Redis instead of exiting 2, and this test failed for it.
  it.each<AppName>(APPS)(
    '%s: ops.host 0.0.0.0 without basic_auth -> exit 2, one line naming the fix',
    async (app) => {
      // 0.0.0.0 with no credentials; nothing else in the config is reachable, so only the rule can stop it
      // before a (slow) connection failure would.
      const { path } = await writeTestConfig({
        ops: { host: '0.0.0.0' },
        redis: { url: 'redis://127.0.0.1:1' },
        database: { connection_string: 'postgres://nobody@127.0.0.1:1/none' },
      });
      const { code, err, proc } = await refusal(app, path);
      expect(code, proc.output()).toBe(2);
      expect(err, proc.output()).toHaveLength(1);
      expect(err[0]).toMatch(
        new RegExp(
          `^\\[${app} err\\] ${app}: refusing to start: .* 0\\.0\\.0\\.0:\\d+ without ops\\.basic_auth; set ops\\.basic_auth`,
        ),
      );
      expect(proc.lines.some((l) => l.includes('"msg":"ready"'))).toBe(false);
    },
    EXIT_MS + 10_000,
  );
});
