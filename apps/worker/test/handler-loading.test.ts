import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TopicRouter } from '@fleet/router';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { BENCH_TOPIC } from '../../../packages/client/src/load.js';
import { spawnApp } from '../../../test/helpers/processes.js';
import { testTempDir } from '../../../test/helpers/services.js';
import { HandlerLoadError, loadHandlerModules } from '../src/index.js';
import { testConfig } from './helpers.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const ctx = { logger: console as never, config: testConfig() };

async function loadError(modules: string[]): Promise<HandlerLoadError> {
  const router = new TopicRouter();
  try {
    await loadHandlerModules(router, modules, fixtures, ctx);
  } catch (err) {
    expect(err).toBeInstanceOf(HandlerLoadError);
    return err as HandlerLoadError;
  }
  throw new Error('expected a HandlerLoadError');
}

describe('handler modules', () => {
  it('loads default and named register exports, paths relative to the base dir', async () => {
    const router = new TopicRouter();
    await loadHandlerModules(router, ['./good.ts', 'named.ts'], fixtures, ctx);
    expect(router.subscriptions().map((s) => s.pattern)).toEqual(['fixture.#', 'fixture.echo', 'named.*']);
  });

  it('loads the examples module', async () => {
    const router = new TopicRouter();
    const examples = fileURLToPath(new URL('../../../examples/handlers/', import.meta.url));
    await loadHandlerModules(router, ['index.ts'], examples, { ...ctx, logger: { info() {} } as never });
    expect(router.match('order.created').length).toBe(1);
    expect(router.match('math.add').length).toBe(1);
    expect(router.match('poison.pill').length).toBe(1);
    // `fleet bench`'s default topic is handled by the default fleet (issue 19: it dead-lettered all of it).
    // Mutation tried: the bench.# subscription removed -> this line failed.
    expect(router.match(BENCH_TOPIC).length).toBe(1);
  });

  it.each([
    ['missing.ts', /^handler module missing\.ts: not found \(.*missing\.ts\)$/],
    [
      'no-export.ts',
      /^handler module no-export\.ts: exports neither a default function nor a register function$/,
    ],
    [
      'throws-at-import.ts',
      /^handler module throws-at-import\.ts: failed to import: database password missing$/,
    ],
    [
      'bad-pattern.ts',
      /^handler module bad-pattern\.ts: invalid subscription pattern "orders\*": .*whole segment/,
    ],
  ])('%s fails with one line naming the module', async (file, line) => {
    const err = await loadError(['good.ts', file]);
    expect(err.message).toMatch(line);
    expect(err.message).not.toContain('\n');
  });
});

describe('worker process start with a broken handler module', () => {
  it('exits 1 with one clear line on stderr', async () => {
    const dir = await testTempDir('worker');
    const cfg = testConfig();
    const path = join(dir, 'fleet.yaml');
    await writeFile(
      path,
      stringify({
        messaging_system: {
          redis: { url: cfg.redis.url, key_prefix: cfg.redis.key_prefix },
          monitoring: { enabled: false },
          handlers: { modules: [join(fixtures, 'good.ts'), './nope.ts'] },
        },
      }),
    );
    const app = spawnApp('worker', { config: path });
    expect(await app.exited).toBe(1);
    const errLines = app.lines.filter((l) => l.startsWith('[worker err]'));
    expect(errLines).toEqual([
      `[worker err] worker: handler module ./nope.ts: not found (${join(dir, 'nope.ts')})`,
    ]);
  });
});
