// The production path (Dockerfile CMD): `npm run build` bundles each app into apps/<app>/dist/main.js,
// which runs on plain node (no tsx) with its run-time files (migrations, Lua scripts) beside it.
import { afterAll, describe, expect, it } from 'vitest';
import { writeTestConfig } from '../helpers/config.js';
import { type AppProcess, buildAppBundle, REPO_ROOT, spawnAppBundle } from '../helpers/processes.js';

const apps = ['persister', 'gateway', 'worker'] as const;
const running: AppProcess[] = [];
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop(5_000)));
});

describe('production bundles', () => {
  it.each(apps)(
    '%s builds and starts from dist/main.js on plain node',
    async (app) => {
      buildAppBundle(app);
      const { path } = await writeTestConfig({
        handlers: { modules: [`${REPO_ROOT}/examples/handlers/index.ts`] },
      });
      const proc = spawnAppBundle(app, { config: path });
      running.push(proc);
      const ready = await proc.waitReady(60_000);
      expect(JSON.parse(ready).msg).toBe('ready');
      expect(await proc.stop(10_000)).toBe(0);
    },
    120_000,
  );
});
