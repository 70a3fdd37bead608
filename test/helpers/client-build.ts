import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './processes.js';
import { RUN_ENV } from './run-env.js';

const BUILD_DEADLINE_MS = 120_000;

/**
 * Builds @fleet/client's dist/ (scripts/build-client.mjs, as `npm run build` and `prepack` do) once per test
 * run: the test files that need it run in parallel processes, and a second build would delete dist/ under
 * the first one's readers. The first caller builds under a lock dir in the run's temp dir; the others wait
 * for its `done` marker. Outside a vitest run it just builds.
 */
export async function buildClientOnce(): Promise<void> {
  const root = process.env[RUN_ENV.tmpDir];
  if (!root) return build();
  const lock = join(root, 'client-build.lock');
  const done = join(root, 'client-build.done');
  const deadline = Date.now() + BUILD_DEADLINE_MS;
  while (!existsSync(done)) {
    try {
      mkdirSync(lock);
    } catch {
      if (Date.now() > deadline)
        throw new Error(`@fleet/client build by another test file not done after ${BUILD_DEADLINE_MS} ms`);
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    try {
      if (!existsSync(done)) {
        build();
        writeFileSync(done, '');
      }
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
}

function build(): void {
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/build-client.mjs')], {
    cwd: join(REPO_ROOT, 'packages/client'),
  });
}
