// "Nothing writable beyond localhost without auth", at start-up: each app run as a real process with an
// ops listener on a non-loopback address and no ops.basic_auth exits 2 with one line on stderr, before it
// listens or connects anywhere. The rule's cases (public_metrics, allow_insecure, loopback forms) are
// unit-tested in packages/config/test/exposure.test.ts.
import { afterAll, describe, expect, it } from 'vitest';
import { writeTestConfig } from '../helpers/config.js';
import { type AppName, type AppProcess, spawnApp } from '../helpers/processes.js';

const EXIT_MS = 60_000;
const running: AppProcess[] = [];
afterAll(async () => {
  await Promise.all(running.map((a) => a.stop(5_000)));
});

describe('apps refuse to start with an open ops listener', () => {
  // Mutation tried: the `if (unsafe)` exit removed from apps/worker/src/main.ts: the worker went on to
  // dial Redis instead of exiting 2, and this test failed for it.
  it.each<AppName>(['gateway', 'persister', 'worker'])(
    '%s: ops.host 0.0.0.0 without basic_auth -> exit 2, one line naming the fix',
    async (app) => {
      // 0.0.0.0 with no credentials; nothing else in the config is reachable, so only the rule can stop it
      // before a (slow) connection failure would.
      const { path } = await writeTestConfig({
        ops: { host: '0.0.0.0' },
        redis: { url: 'redis://127.0.0.1:1' },
        database: { connection_string: 'postgres://nobody@127.0.0.1:1/none' },
      });
      const proc = spawnApp(app, { config: path });
      running.push(proc);
      const code = await Promise.race([
        proc.exited,
        new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), EXIT_MS).unref()),
      ]);
      expect(code, proc.output()).toBe(2);
      const err = proc.lines.filter((l) => l.startsWith(`[${app} err]`));
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
