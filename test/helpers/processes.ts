import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { onProcessExit } from '@fleet/services';

/**
 * Runs a Fleet app as a real process from the repository root: from source, `node --import
 * scripts/register-ts.mjs apps/<app>/src/main.ts --config <file>` (spawnApp), or from its production bundle on plain node,
 * `node apps/<app>/dist/main.js --config <file>` (buildAppBundle + spawnAppBundle).
 *
 * READY CONVENTION: every app prints one JSON log line containing `"msg":"ready"` once it serves (listening,
 * consuming, or pulling jobs). Wait for it with `await app.waitForLine(/"msg":"ready"/)`; waitReady() does
 * exactly that.
 *
 * The child gets this process's environment WITHOUT the config overrides FLEET_REDIS_URL,
 * FLEET_DATABASE_URL and FLEET_<SECTION>__<FIELD> (the test run sets the first two for test files; in a
 * child they would silently override the config file under test), nor OpenTelemetry's OTEL_* variables (they
 * override the config's tracing section). Pass them in `env` to set them on purpose.
 *
 * Children are SIGKILLed when the test process exits, so a failed test never leaves an app running.
 */
export type AppName = 'gateway' | 'persister' | 'worker';

export interface AppProcess {
  readonly app: string;
  readonly pid: number | undefined;
  /** Every stdout/stderr line so far, prefixed `[<app> out]` / `[<app> err]`. */
  readonly lines: readonly string[];
  /** The captured lines as one string, for assertion messages. */
  output(): string;
  /** Resolves with the first line (past or future, without prefix) matching `re`; rejects after timeoutMs. */
  waitForLine(re: RegExp | string, timeoutMs?: number): Promise<string>;
  /** waitForLine(/"msg":"ready"/). */
  waitReady(timeoutMs?: number): Promise<string>;
  /** Sends a signal (default SIGTERM). */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL if still running after graceMs; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  /** Exit code, or null when ended by a signal. */
  readonly exited: Promise<number | null>;
}

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** `node --import TS_HOOK file.ts` runs Fleet's TypeScript sources (see scripts/register-ts.mjs). */
export const TS_HOOK = fileURLToPath(new URL('../../scripts/register-ts.mjs', import.meta.url));

const running = new Set<ChildProcess>();
let hooked = false;
function killAllOnExit(): void {
  if (hooked) return;
  hooked = true;
  onProcessExit(killAllApps);
}

/** SIGKILLs every app still running (for afterAll hooks that want a clean slate). */
export function killAllApps(): void {
  for (const child of running) child.kill('SIGKILL');
}

function childEnv(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'FLEET_REDIS_URL' || key === 'FLEET_DATABASE_URL' || /^FLEET_.+__/.test(key)) continue;
    if (key.startsWith('OTEL_')) continue;
    // vitest's own worker variables must not leak into a plain node process.
    if (key.startsWith('VITEST') || key === 'NODE_OPTIONS') continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

const MAX_LINES = 5000;

export function spawnApp(app: AppName, args: { config: string; env?: Record<string, string> }): AppProcess {
  return spawnScript(app, `apps/${app}/src/main.ts`, ['--config', args.config], args.env);
}

/** Bundles `app` into apps/<app>/dist/main.js with the repository's build script (as `npm run build`). */
export function buildAppBundle(app: AppName): void {
  execFileSync(process.execPath, [`${REPO_ROOT}/scripts/build-app.mjs`], { cwd: `${REPO_ROOT}/apps/${app}` });
}

/** The app from its bundle (buildAppBundle) on plain node, as the Dockerfile runs it. */
export function spawnAppBundle(
  app: AppName,
  args: { config: string; env?: Record<string, string> },
): AppProcess {
  return spawnScript(app, `apps/${app}/dist/main.js`, ['--config', args.config], args.env, {
    typescript: false,
  });
}

/** Same capture and cleanup for any TypeScript/JS entry point (path relative to the repository root). */
export function spawnScript<Name extends string>(
  app: Name,
  script: string,
  scriptArgs: string[] = [],
  env?: Record<string, string>,
  opts: { typescript?: boolean } = {},
): AppProcess & { readonly app: Name } {
  killAllOnExit();
  // typescript: false runs plain node, as production runs the bundles in apps/<app>/dist.
  const loader = opts.typescript === false ? [] : ['--import', TS_HOOK];
  const child = spawn(process.execPath, [...loader, script, ...scriptArgs], {
    cwd: REPO_ROOT,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);

  const lines: string[] = [];
  const waiters = new Set<{ re: RegExp; resolve: (line: string) => void }>();
  const onLine = (stream: 'out' | 'err') => (line: string) => {
    lines.push(`[${app} ${stream}] ${line}`);
    if (lines.length > MAX_LINES) lines.splice(0, lines.length - MAX_LINES);
    for (const waiter of waiters) {
      if (waiter.re.test(line)) {
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  };
  createInterface({ input: child.stdout! }).on('line', onLine('out'));
  createInterface({ input: child.stderr! }).on('line', onLine('err'));

  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    });
    child.once('error', (err) => {
      lines.push(`[${app} spawn] ${err.message}`);
      running.delete(child);
      resolve(null);
    });
  });
  let done = false;
  void exited.then(() => {
    done = true;
  });

  const output = () => lines.join('\n');
  const tail = () => lines.slice(-40).join('\n');

  function waitForLine(pattern: RegExp | string, timeoutMs = 20_000): Promise<string> {
    const re =
      typeof pattern === 'string' ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : pattern;
    const prefixLength = (line: string) => line.indexOf('] ') + 2;
    const past = lines.find((line) => re.test(line.slice(prefixLength(line))));
    if (past) return Promise.resolve(past.slice(prefixLength(past)));
    return new Promise((resolve, reject) => {
      const waiter = {
        re,
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`${app}: no line matching ${re} within ${timeoutMs} ms. Last output:\n${tail()}`));
      }, timeoutMs);
      waiters.add(waiter);
      void exited.then((code) => {
        if (!waiters.has(waiter)) return;
        waiters.delete(waiter);
        clearTimeout(timer);
        reject(
          new Error(`${app} exited (code ${code}) before a line matching ${re}. Last output:\n${tail()}`),
        );
      });
    });
  }

  return {
    app,
    pid: child.pid,
    lines,
    output,
    waitForLine,
    waitReady: (timeoutMs) => waitForLine(/"msg":"ready"/, timeoutMs),
    kill: (signal = 'SIGTERM') => {
      if (!done) child.kill(signal);
    },
    async stop(graceMs = 10_000) {
      if (done) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    exited,
  };
}
