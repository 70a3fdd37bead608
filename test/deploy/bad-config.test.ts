// An invalid config file stops each app at start with exit code 2 and one line on stderr naming the
// problem, never a stack trace.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type AppName, type AppProcess, spawnApp } from '../helpers/processes.js';
import { testTempDir } from '../helpers/services.js';

const EXIT_MS = 60_000;
const running: AppProcess[] = [];
afterAll(async () => {
  await Promise.all(running.map((a) => a.stop(5_000)));
});

describe('apps refuse an invalid config in one line', () => {
  // Mutation checked: without the try/catch around the persister's ConfigWatcher (as before), the
  // persister printed a stack trace over many lines and exited 1: this test failed for it.
  it.each<AppName>(['gateway', 'persister', 'worker'])(
    '%s: an unknown key -> exit 2, one stderr line',
    async (app) => {
      const dir = await testTempDir(`bad-config-${app}`);
      const path = join(dir, 'fleet.yaml');
      await writeFile(path, 'messaging_system:\n  network:\n    porrt: 7000\n');
      const proc = spawnApp(app, { config: path });
      running.push(proc);
      const code = await Promise.race([
        proc.exited,
        new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), EXIT_MS).unref()),
      ]);
      expect(code, proc.output()).toBe(2);
      const err = proc.lines.filter((l) => l.startsWith(`[${app} err]`));
      expect(err, proc.output()).toHaveLength(1);
      expect(err[0]).toMatch(/porrt/);
    },
    EXIT_MS + 10_000,
  );
});
