// `npm start` (node scripts/start.mjs) as a user runs it: finds the services, creates the configured database,
// starts gateway, persister and N workers, prints the "Fleet is running" banner with the real ports, serves
// publish and request/reply, and on Ctrl-C (SIGINT) stops every child and exits 0. An unreachable configured
// Redis is one clear line and a non-zero exit. However the start process ends (SIGINT, SIGTERM, kill -9), or
// the npm process of `npm start` (SIGINT, SIGTERM, kill -9), no app keeps running (issue 13 item 8).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { connect } from '@fleet/client';
import { dropDatabase, freePort, onProcessExit, withDatabase } from '@fleet/services';
import { afterAll, describe, expect, it } from 'vitest';
import { writeTestConfig } from '../helpers/config.js';
import { REPO_ROOT } from '../helpers/processes.js';
import { RUN_ENV, runDatabaseName } from '../helpers/run-env.js';
import { redisUrl, runId } from '../helpers/services.js';

const serverUrl = process.env[RUN_ENV.postgresServerUrl] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const embedded = process.env[RUN_ENV.postgresKind] === 'embedded';
const createdDatabases: string[] = [];

afterAll(async () => {
  for (const name of createdDatabases) await dropDatabase(serverUrl, name).catch(() => {});
});

interface Started {
  child: ChildProcess;
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor(re: RegExp, timeoutMs: number): Promise<string>;
}

/** Runs `node scripts/start.mjs ARGS` (or `npm start -- ARGS`) in its own process group (so a failed test
 *  can kill the whole tree). */
function startFleet(args: string[], env: Record<string, string>, via: 'node' | 'npm' = 'node'): Started {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // FORCE_COLOR / NO_COLOR of the test runner would decide the colour question for the start script.
    if (k.startsWith('FLEET_') || k.startsWith('VITEST') || k === 'NODE_OPTIONS') continue;
    if (k === 'FORCE_COLOR' || k === 'NO_COLOR') continue;
    base[k] = v;
  }
  const [cmd, argv] =
    via === 'npm' ? ['npm', ['start', '--', ...args]] : [process.execPath, ['scripts/start.mjs', ...args]];
  const child = spawn(cmd, argv, {
    cwd: REPO_ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const unhook = onProcessExit(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  const lines: string[] = [];
  const waiters = new Set<{ re: RegExp; resolve: (l: string) => void }>();
  const onLine = (line: string) => {
    lines.push(line);
    for (const w of waiters)
      if (w.re.test(line)) {
        waiters.delete(w);
        w.resolve(line);
      }
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      unhook();
      resolve({ code, signal });
    }),
  );
  const waitFor = (re: RegExp, timeoutMs: number) => {
    const past = lines.find((l) => re.test(l));
    if (past) return Promise.resolve(past);
    return new Promise<string>((resolve, reject) => {
      const w: { re: RegExp; resolve: (l: string) => void } = { re, resolve };
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`no line matching ${re} in ${timeoutMs} ms:\n${lines.slice(-60).join('\n')}`));
      }, timeoutMs);
      w.resolve = (l: string) => {
        clearTimeout(timer);
        resolve(l);
      };
      waiters.add(w);
      void exited.then(({ code }) => {
        if (!waiters.delete(w)) return;
        clearTimeout(timer);
        reject(new Error(`start exited (${code}) before ${re}:\n${lines.slice(-60).join('\n')}`));
      });
    });
  };
  return { child, lines, exited, waitFor };
}

/** Pids whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** Every process below `pid`. */
function descendantsOf(pid: number): number[] {
  const direct = childrenOf(pid);
  return direct.concat(direct.flatMap(descendantsOf));
}

/** Running (a zombie, whose parent did not reap it yet, does not count: it has exited). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Waits (up to `ms`) until none of `pids` runs; returns those still running. */
async function survivors(pids: number[], ms: number): Promise<string[]> {
  const deadline = Date.now() + ms;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return pids.filter(alive).map((pid) => `${pid} ${cmdline(pid)}`);
}

/**
 * A config with the example handlers and every port 0 (the OS picks; a free port picked ahead could be taken
 * by a parallel test before the app binds it): the banner must then print the ports actually bound. The
 * database is named in FLEET_DATABASE_URL and does not exist yet.
 */
async function fleetConfig(): Promise<{ path: string; dbUrl: string }> {
  const { path } = await writeTestConfig({
    network: { port: 0 },
    ops: { port: 0, gateway_metrics_port: 0, worker_metrics_port: 0 },
    handlers: { modules: [`${REPO_ROOT}/examples/handlers/index.ts`] },
  });
  const name = `${runDatabaseName(runId())}_start_${randomBytes(3).toString('hex')}`;
  createdDatabases.push(name);
  return { path, dbUrl: embedded ? serverUrl : withDatabase(serverUrl, name) };
}

async function runAndStop(workers: number): Promise<void> {
  const { path, dbUrl } = await fleetConfig();
  const fleet = startFleet(['--config', path, '--workers', String(workers)], {
    FLEET_REDIS_URL: redisUrl(),
    FLEET_DATABASE_URL: dbUrl,
  });
  await fleet.waitFor(/Fleet is running/, 150_000);
  const gatewayLine = await fleet.waitFor(/gateway \(TCP\)/, 5_000);
  const port = Number(gatewayLine.match(/:(\d+)\s*$/)?.[1]);
  expect(port, gatewayLine).toBeGreaterThan(0);
  const opsLine = await fleet.waitFor(/ops \/ Bull Board/, 5_000);
  const ops = opsLine.match(/(http:\/\/[^ ]+)\/ops\/queues/)?.[1];
  expect((await fetch(`${ops}/healthz`)).status, opsLine).toBe(200);
  const workerLine = await fleet.waitFor(/worker metrics/, 5_000);
  expect(workerLine.match(/http:\/\/[^ ]+\/metrics/g)).toHaveLength(workers);
  // Every child must be gone after exit; the apps are 2 + workers.
  const children = childrenOf(fleet.child.pid!);
  const apps = children.filter((pid) => cmdline(pid).includes('/src/main.ts'));
  expect(apps.length, fleet.lines.join('\n')).toBe(2 + workers);

  const client = await connect({ host: '127.0.0.1', port, reconnect: false });
  try {
    const ack = await client.publish('order.created', { order: 1 });
    expect(ack.id).toBeTruthy();
    const reply = await client.request('math.add', { a: 2, b: 3 }, { timeoutMs: 20_000 });
    expect(reply.json<number>()).toBe(5);
  } finally {
    await client.close();
  }

  const t0 = Date.now();
  fleet.child.kill('SIGINT');
  const { code } = await fleet.exited;
  expect(code, fleet.lines.slice(-40).join('\n')).toBe(0);
  expect(Date.now() - t0).toBeLessThan(30_000);
  // Output piped (not a terminal): no colour codes anywhere, and app logs stay raw JSON behind the app's
  // prefix (what scripts parse). Mutation tried: the tag coloured unconditionally (as before issue 19) ->
  // this failed on the first app line.
  expect(fleet.lines.filter((l) => l.includes('\x1b')).slice(0, 3)).toEqual([]);
  expect(
    fleet.lines.some((l) => /^persister +\| \{.*"msg":"ready"/.test(l)),
    fleet.lines.join('\n'),
  ).toBe(true);
  // Children exit on their own after the SIGINT: give the last of them a moment.
  const deadline = Date.now() + 5_000;
  while (children.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(
    children.filter(alive).map((pid) => `${pid} ${cmdline(pid)}`),
    'children still running after exit',
  ).toEqual([]);
}

/** How long the apps may take to notice and finish their graceful shutdown (the box is loaded). */
const STOP_DEADLINE_MS = 60_000;

/**
 * Starts the fleet (1 worker), sends `signal` to the start process or to npm alone (not the group, as a
 * supervisor or `kill` would), and expects every app process gone by itself within the deadline.
 * Mutations tried, each failing: without the IPC channel (no 'ipc' in the apps' stdio, so nothing for
 * the apps' bootstrap, packages/app/src/parent.ts, to watch), kill -9 of the start process left the three apps running; without `exec` in the npm script, SIGINT/SIGTERM to npm reached only
 * its shell and the fleet ran on; without the parent poll, kill -9 of npm left the whole fleet running.
 */
async function signalAndExpectAppsGone(via: 'node' | 'npm', signal: NodeJS.Signals): Promise<void> {
  const { path, dbUrl } = await fleetConfig();
  const fleet = startFleet(
    ['--config', path],
    { FLEET_REDIS_URL: redisUrl(), FLEET_DATABASE_URL: dbUrl },
    via,
  );
  try {
    await fleet.waitFor(/Fleet is running/, 150_000);
    const apps = descendantsOf(fleet.child.pid!).filter((pid) => cmdline(pid).includes('/src/main.ts'));
    expect(apps.length, fleet.lines.join('\n')).toBe(3);
    process.kill(fleet.child.pid!, signal);
    expect(await survivors(apps, STOP_DEADLINE_MS), 'apps still running').toEqual([]);
  } finally {
    try {
      process.kill(-fleet.child.pid!, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  }
}

describe('npm start (scripts/start.mjs)', () => {
  it('runs the fleet, serves publish and request/reply, and stops every child on SIGINT', async () => {
    await runAndStop(1);
  }, 240_000);

  it('runs --workers 2 worker processes', async () => {
    await runAndStop(2);
  }, 240_000);

  it.each(['SIGTERM', 'SIGKILL'] as const)(
    '%s to the start process alone stops every app',
    async (signal) => {
      await signalAndExpectAppsGone('node', signal);
    },
    240_000,
  );

  it.each(['SIGINT', 'SIGTERM', 'SIGKILL'] as const)(
    'npm start: %s to the npm process alone stops every app',
    async (signal) => {
      await signalAndExpectAppsGone('npm', signal);
    },
    240_000,
  );

  it('prints one line and exits non-zero when the configured Redis is unreachable', async () => {
    const deadPort = await freePort();
    const { path } = await writeTestConfig({ redis: { url: `redis://127.0.0.1:${deadPort}` } });
    const fleet = startFleet(['--config', path], {});
    const { code } = await fleet.exited;
    expect(code).not.toBe(0);
    const output = fleet.lines.filter((l) => l.trim() !== '');
    expect(output, output.join('\n')).toHaveLength(1);
    expect(output[0]).toMatch(/Redis not reachable at 127\.0\.0\.1:\d+/);
    expect(output.join('\n')).not.toMatch(/\n\s+at /);
  }, 60_000);
});
