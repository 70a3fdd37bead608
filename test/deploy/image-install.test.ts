// The `fleet` CLI in the production image, without a Docker engine: the Dockerfile's runtime stage rebuilt
// in a temp dir from its COPY lines (build-stage files come from this checkout after building the client as
// the build stage's `npm run build` does; the apps' bundles are left out), its own `npm ci` line run there
// (--omit=dev, plus --prefer-offline so the warm npm cache serves it), then the CLI run with the stage's
// ENV, as `docker run` would: `fleet --version`, `fleet bench --help` (loads the load generator and
// hdr-histogram-js) and `fleet config check` (loads @fleet/config: zod, yaml, chokidar).
// Mutation tried: bin/fleet.js importing ../../../scripts/register-ts.mjs unconditionally (as it did before
// the client had a build): every command failed with ERR_MODULE_NOT_FOUND, since the image has no scripts/.
// LICENSE dropped from the build stage's COPY: the build-stage check failed (build-client copies it to dist/).
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildClientOnce } from '../helpers/client-build.js';
import { REPO_ROOT } from '../helpers/processes.js';
import { strictRun } from '../helpers/services.js';

const run = promisify(execFile);
const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
/** The last stage: what the image runs. */
const stages = dockerfile.split(/^FROM /m);
const runtime = stages.at(-1)!;
const buildStage = stages.at(-2)!;
const WORKDIR = runtime.match(/^WORKDIR (\S+)$/m)![1]!;

/** PATH with this test's node first; vitest's variables dropped. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${join(process.execPath, '..')}:${process.env.PATH}`,
  };
  for (const key of Object.keys(env)) if (key.startsWith('VITEST') || key === 'NODE_OPTIONS') delete env[key];
  return env;
}

const hasNpm = await run('npm', ['--version'], { env: baseEnv() }).then(
  () => true,
  () => false,
);
if (!hasNpm && strictRun()) throw new Error('image-install: npm is not on PATH (it ships with Node.js)');

/**
 * Everything but node_modules (the stage's npm ci installs them) and the apps' bundles: the CLI does not use
 * them, and test/deploy/bundles.test.ts may be rebuilding them right now.
 */
const copied = (file: string) => !file.includes('/node_modules') && !/\/apps\/[^/]+\/dist(\/|$)/.test(file);

describe.skipIf(!hasNpm)('the production image install (Dockerfile runtime stage)', () => {
  let work: string;
  let app: string;
  /** The stage's ENV lines, WORKDIR mapped to the temp dir, $PATH to this process's PATH. */
  let imageEnv: NodeJS.ProcessEnv;

  beforeAll(async () => {
    await buildClientOnce();
    work = await mkdtemp(join(tmpdir(), 'fleet-image-'));
    app = join(work, 'app');
    mkdirSync(app);
    const inImage = (p: string) => join(app, p.startsWith(WORKDIR) ? p.slice(WORKDIR.length) : p);
    for (const [, from, args] of runtime.matchAll(/^COPY (--from=\S+ )?(.+)$/gm)) {
      const parts = args!.split(/\s+/);
      const dest = parts.pop()!;
      for (const src of parts) {
        // A build-stage path is absolute under its WORKDIR; the checkout holds the same files.
        const source = join(REPO_ROOT, from ? src.slice(WORKDIR.length + 1) : src);
        const target = dest.endsWith('/') ? join(inImage(dest), basename(src)) : inImage(dest);
        cpSync(source, target, { recursive: true, filter: copied });
      }
    }
    const npmCi = runtime
      .match(/^RUN (.*npm ci.*)$/m)![1]!
      .split('&&')
      .map((c) => c.trim())
      .find((c) => c.startsWith('npm ci'))!;
    expect(npmCi).toContain('--omit=dev');
    imageEnv = baseEnv();
    for (const [, key, value] of runtime.matchAll(/^ENV (\w+)=(.*)$/gm))
      imageEnv[key!] = value!.replaceAll('$PATH', baseEnv().PATH!).replaceAll(`${WORKDIR}/`, `${app}/`);
    const [npm, ...args] = npmCi.split(/\s+/);
    await run(npm!, [...args, '--prefer-offline'], { cwd: app, env: imageEnv });
  }, 180_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('the build stage has what the client build reads outside packages/', () => {
    // scripts/build-client.mjs and bundle.mjs, tsconfig.build.json extends tsconfig.json, LICENSE into dist/.
    const copied = [...buildStage.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap(([, srcs]) =>
      srcs!.split(/\s+/),
    );
    expect(copied).toEqual(expect.arrayContaining(['scripts', 'tsconfig.json', 'LICENSE']));
    expect(buildStage).toMatch(/^RUN npm run build$/m);
  });

  const fleet = (...args: string[]) => run('fleet', args, { cwd: app, env: imageEnv });

  it('`fleet` is on the image PATH and prints its version', async () => {
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'packages/client/package.json'), 'utf8')) as {
      version: string;
    };
    expect((await fleet('--version')).stdout.trim()).toBe(`fleet ${version}`);
  });

  it('`fleet bench --help` loads the load generator and its dependencies', async () => {
    expect((await fleet('bench', '--help')).stdout).toMatch(/^Usage: fleet bench/);
  });

  it('`fleet config check` validates the image config', async () => {
    const { stdout } = await fleet('config', 'check', join(app, 'config/fleet.yaml'));
    expect(stdout.trim()).toBe('ok');
  });
});
