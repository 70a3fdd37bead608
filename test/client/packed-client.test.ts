// @fleet/client as a user gets it: `npm pack -w @fleet/client` of its build (buildClientOnce: the build
// `prepack` runs, done once per test run since test/deploy/image-install.test.ts needs it too), the tarball
// installed into an empty project outside the repository (dependencies from the npm cache or the registry),
// then, in that project, a plain ESM script that publishes with a durable ACK and does a request/reply
// against a fleet this test starts (gateway, persister, worker with examples/handlers), a CommonJS require,
// and tsc type-checking a .ts file against the installed declarations.
// Mutations tried (each failed this test, then was restored):
//  - @fleet/protocol back in the client's `dependencies`: npm install of the tarball fails (404 from the
//    registry for @fleet/protocol);
//  - the `@fleet/<name>` rewrite in scripts/build-client.mjs removed: the type-check fails (TS2307: Cannot
//    find module '@fleet/protocol').
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCode } from '@fleet/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildClientOnce } from '../helpers/client-build.js';
import { writeTestConfig } from '../helpers/config.js';
import { type AppProcess, REPO_ROOT, spawnApp } from '../helpers/processes.js';
import { cleanupRedisPrefix, type FreshDatabase, freshDatabase, strictRun } from '../helpers/services.js';

const run = promisify(execFile);

/**
 * One step of the setup under its own deadline, so a setup that runs long says which step (and what was
 * done, with when) instead of a bare hook timeout. A child process it started keeps its own timeout.
 */
function stepper(): <T>(name: string, ms: number, f: () => Promise<T>) => Promise<T> {
  const t0 = Date.now();
  const done: string[] = [];
  return async (name, ms, f) => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`setup: ${name} not done after ${ms} ms (done: ${done.join(', ') || 'nothing'})`)),
        ms,
      );
    });
    try {
      return await Promise.race([f(), late]);
    } finally {
      clearTimeout(timer);
      done.push(`${name} at ${Math.round((Date.now() - t0) / 1000)} s`);
    }
  };
}

/** npm and node for the child processes: this test's node first on PATH, vitest's NODE_OPTIONS dropped. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${join(process.execPath, '..')}:${process.env.PATH ?? ''}`,
  };
  for (const key of Object.keys(env)) if (key.startsWith('VITEST') || key === 'NODE_OPTIONS') delete env[key];
  return env;
}

async function npmAvailable(): Promise<boolean> {
  return run('npm', ['--version'], { env: childEnv() }).then(
    () => true,
    () => false,
  );
}
const hasNpm = await npmAvailable();
if (!hasNpm && strictRun()) throw new Error('packed-client: npm is not on PATH (it ships with Node.js)');

const USE_SCRIPT = `
import { connect } from '@fleet/client';
const client = await connect({ host: '127.0.0.1', port: Number(process.argv[2]) });
const published = await client.publish('order.created', { order: 42 }, { ack: 'durable' });
const reply = await client.request('math.add', { a: 1, b: 2 }, { timeoutMs: 20000 });
await client.close();
console.log(JSON.stringify({ published, reply: reply.json(), from: import.meta.resolve('@fleet/client') }));
`;

const TYPED_SCRIPT = `
import { connect, ErrorCode, FleetError, type PublishResult, type RequestResult } from '@fleet/client';
const client = await connect({ host: '127.0.0.1', port: 7400, token: 'secret', tls: { rejectUnauthorized: true } });
const published: PublishResult = await client.publish('order.created', { order: 42 }, { ack: 'durable' });
const id: string = published.id;
const reply: RequestResult = await client.request('math.add', { a: 1, b: 2 }, { timeoutMs: 2000 });
const sum = reply.json<number>();
// @ts-expect-error: the ACK levels are 'stream' and 'durable'
await client.publish('order.created', {}, { ack: 'eventually' });
const failure = new Error() as unknown;
if (failure instanceof FleetError && failure.code === ErrorCode.AUTH_FAILED) console.log(failure.codeName);
console.log(id, sum);
`;

describe.skipIf(!hasNpm)('the packed @fleet/client outside the repository', () => {
  let work: string;
  let project: string;
  let db: FreshDatabase;
  let prefix: string;
  let gatewayPort: number;
  const apps: AppProcess[] = [];

  beforeAll(async () => {
    const step = stepper();
    work = await mkdtemp(join(tmpdir(), 'fleet-packed-client-'));
    // Outside the repository, so nothing resolves through the workspace's node_modules.
    expect(work.startsWith(REPO_ROOT)).toBe(false);
    await step('the client build', 130_000, buildClientOnce);
    const packArgs = [
      'pack',
      '-w',
      '@fleet/client',
      '--pack-destination',
      work,
      '--json',
      '--ignore-scripts',
    ];
    const packed = await step('npm pack', 60_000, () =>
      run('npm', packArgs, { cwd: REPO_ROOT, env: childEnv(), timeout: 55_000 }),
    );
    const [{ filename }] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as [
      { filename: string },
    ];
    project = join(work, 'project');
    await mkdir(project);
    await writeFile(
      join(project, 'package.json'),
      JSON.stringify({ name: 'uses-fleet', private: true, type: 'module' }),
    );
    const root = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    await step('npm install', 120_000, () =>
      run(
        'npm',
        [
          'install',
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          join(work, filename),
          `@types/node@${root.devDependencies['@types/node']}`,
        ],
        { cwd: project, env: childEnv(), timeout: 115_000 },
      ),
    );

    db = await step('the database', 30_000, () => freshDatabase('packed_client'));
    const written = await writeTestConfig({
      database: { connection_string: db.url, pool: { max_connections: 4 } },
      handlers: { modules: [`${REPO_ROOT}/examples/handlers/index.ts`] },
      streams: { block_ms: 50 },
    });
    prefix = written.config.redis?.key_prefix ?? '';
    for (const app of ['persister', 'gateway', 'worker'] as const) {
      const proc = spawnApp(app, { config: written.path });
      apps.push(proc);
      const ready = await step(`the ${app} start`, 65_000, () =>
        proc.waitReady(60_000).catch((err: Error) => {
          throw new Error(`${app} did not get ready: ${err.message}\n${proc.output().slice(-2000)}`);
        }),
      );
      if (app === 'gateway') gatewayPort = (JSON.parse(ready) as { port: number }).port;
    }
    // Alone this takes ~11 s. In full runs on slow 2-core boxes it passed 180 s, and once (2026-12-08) the
    // 420 s hook timeout with no word of which step: each step now has a deadline of its own (their sum is
    // under the hook's), so a slow run names the step.
  }, 540_000);

  afterAll(async () => {
    await Promise.all(apps.map((p) => p.stop(5_000)));
    await db?.drop();
    if (prefix) await cleanupRedisPrefix(prefix);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('an ESM script publishes (durable ACK) and gets a reply to its request', async () => {
    await writeFile(join(project, 'use.mjs'), USE_SCRIPT);
    const { stdout } = await run(process.execPath, ['use.mjs', String(gatewayPort)], {
      cwd: project,
      env: childEnv(),
    });
    const out = JSON.parse(stdout) as {
      published: { id: string; streamId: string };
      reply: unknown;
      from: string;
    };
    expect(out.from.startsWith(`file://${project}/node_modules/@fleet/client/`)).toBe(true);
    expect(out.published.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(out.published.streamId).toMatch(/^\d+-\d+$/);
    expect(out.reply).toBe(3);
  }, 60_000);

  it('CommonJS code requires it, and the `fleet` bin runs', async () => {
    const required = await run(
      process.execPath,
      ['-e', "const c = require('@fleet/client'); console.log(typeof c.connect, c.ErrorCode.TIMEOUT)"],
      { cwd: project, env: childEnv() },
    );
    expect(required.stdout.trim()).toBe(`function ${ErrorCode.TIMEOUT}`);
    const version = await run(join(project, 'node_modules/.bin/fleet'), ['--version'], {
      cwd: project,
      env: childEnv(),
    });
    const { version: expected } = JSON.parse(
      await readFile(join(REPO_ROOT, 'packages/client/package.json'), 'utf8'),
    ) as { version: string };
    expect(version.stdout.trim()).toBe(`fleet ${expected}`);
  }, 60_000);

  it('TypeScript code type-checks against the installed declarations', async () => {
    await writeFile(join(project, 'typed.ts'), TYPED_SCRIPT);
    await writeFile(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2023',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          types: ['node'],
          strict: true,
          noEmit: true,
          skipLibCheck: false,
        },
        files: ['typed.ts'],
      }),
    );
    const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
    const checked = await run(process.execPath, [tsc, '-p', project], {
      cwd: project,
      env: childEnv(),
    }).catch((err: { stdout?: string; message: string }) => ({
      stdout: `${err.stdout ?? ''}\n${err.message}`,
      failed: true,
    }));
    expect(checked, checked.stdout).not.toHaveProperty('failed');
  }, 60_000);
});
