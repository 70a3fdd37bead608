// TypeScript handler modules load through Node's own type stripping (no tsx), in a real worker process:
// erasable TypeScript loads; an enum, which strip-only mode refuses, stops the worker with one line naming
// the module, Node's reason and what a handler may not use. (In-process tests cannot show this: vitest
// transforms the .ts files it imports itself, enums included.)
// Mutations tried: (1) dropping ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX from TYPE_STRIPPING_ERRORS in
// handler-loader.ts: the hint was missing and this test failed; (2) letting scripts/register-ts.mjs
// transform the handler fixtures (removing them from HANDLER_DIRS): the enum loaded, the worker did not
// exit, and this test failed. Both restored.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { spawnApp } from '../../../test/helpers/processes.js';
import { testTempDir } from '../../../test/helpers/services.js';
import { testConfig } from './helpers.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const EXIT_DEADLINE_MS = 30_000;

describe('TypeScript handler modules under Node type stripping', () => {
  it('a handler module with an enum stops the worker with one line saying why', {
    timeout: EXIT_DEADLINE_MS * 2,
  }, async () => {
    const dir = await testTempDir('worker');
    const cfg = testConfig();
    const path = join(dir, 'fleet.yaml');
    const enumModule = join(fixtures, 'enum-handler.ts');
    await writeFile(
      path,
      stringify({
        messaging_system: {
          redis: { url: cfg.redis.url, key_prefix: cfg.redis.key_prefix },
          monitoring: { enabled: false },
          // good.ts (type annotations, `import type`) loads first: erasable TypeScript is fine.
          handlers: { modules: [join(fixtures, 'good.ts'), enumModule] },
        },
      }),
    );
    const app = spawnApp('worker', { config: path });
    expect(await app.exited, app.output()).toBe(1);
    const errLines = app.lines.filter((l) => l.startsWith('[worker err]'));
    expect(errLines, app.output()).toHaveLength(1);
    expect(errLines[0]).toContain(`worker: handler module ${enumModule}: failed to import: `);
    expect(errLines[0]).toContain('TypeScript enum is not supported in strip-only mode');
    expect(errLines[0]).toContain('enums, namespaces, parameter properties');
  });
});
