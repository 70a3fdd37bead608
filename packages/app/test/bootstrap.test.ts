// The bootstrap every app runs (@fleet/app), on a stand-in app (fixtures/app.ts) as a real process:
// ready line and /metrics, graceful stop, a repeated signal forcing the exit, the npm start parent watch,
// and start failures. The apps' own refusals (exit 2) are test/deploy/start-refusals.test.ts.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { writeTestConfig } from '../../../test/helpers/config.js';
import { REPO_ROOT, spawnScript, TS_HOOK } from '../../../test/helpers/processes.js';

const FIXTURE = 'packages/app/test/fixtures/app.ts';

async function startFixture(env: Record<string, string> = {}) {
  const { path } = await writeTestConfig();
  return spawnScript('fixture', FIXTURE, ['--config', path], env);
}

describe('app bootstrap', () => {
  it('prints the ready line with the app fields and metrics port, serves /metrics, stops on SIGTERM with exit 0', async () => {
    const app = await startFixture();
    const ready = JSON.parse(await app.waitReady(30_000));
    expect(ready).toMatchObject({ name: 'worker', port: 4242 });
    const text = await (await fetch(`http://127.0.0.1:${ready.metrics_port}/metrics`)).text();
    expect(text).toContain('fleet_config_reloads_total');
    app.kill('SIGTERM');
    expect(await app.exited).toBe(0);
    const out = app.output();
    expect(out).toMatch(/"signal":"SIGTERM".*"msg":"shutting down"/);
    expect(out).toMatch(/fixture: closed[\s\S]*"msg":"stopped"/);
  }, 60_000);

  // Mutation checked: with the repeat treated as any other stop request (ignored while stopping), the
  // hanging close kept the process alive and `exited` never resolved (test timeout).
  it('a repeat of the signal exits at once, without waiting for the app to close', async () => {
    const app = await startFixture({ FIXTURE_CLOSE: 'hang' });
    await app.waitReady(30_000);
    app.kill('SIGTERM');
    await app.waitForLine(/fixture: closing/, 10_000);
    app.kill('SIGTERM');
    expect(await app.exited).toBe(143);
    expect(app.output()).toMatch(/"msg":"signal repeated: exiting without finishing the shutdown"/);
    expect(app.output()).not.toMatch(/fixture: closed/);
  }, 60_000);

  // Ctrl-C under npm start: SIGINT from the terminal, then SIGTERM from start.ts. Mutation checked: with any
  // second signal forcing, the app exited 143 before its close ended and this failed.
  it('a different second signal does not cut the graceful shutdown short', async () => {
    const app = await startFixture({ FIXTURE_CLOSE: 'usr2' });
    await app.waitReady(30_000);
    app.kill('SIGINT');
    await app.waitForLine(/fixture: closing/, 10_000);
    app.kill('SIGTERM');
    // The fixture's listener runs after the bootstrap's: once it has, the bootstrap has seen the SIGTERM.
    await app.waitForLine(/fixture: SIGTERM handled/, 10_000);
    app.kill('SIGUSR2');
    expect(await app.exited).toBe(0);
    expect(app.output()).toMatch(/fixture: closed[\s\S]*"msg":"stopped"/);
  }, 60_000);

  // npm start's orphan guard: the start process holds an IPC channel to each app; when it closes (the start
  // process died, kill -9 included) the app stops gracefully. Mutation checked: without watchParent's
  // 'disconnect' listener the fixture ran on and this timed out.
  it('stops gracefully when the IPC channel of FLEET_START_WATCH_PARENT closes', async () => {
    const { path } = await writeTestConfig();
    const child = spawn(process.execPath, ['--import', TS_HOOK, FIXTURE, '--config', path], {
      cwd: REPO_ROOT,
      env: { ...process.env, FLEET_START_WATCH_PARENT: '1' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const lines: string[] = [];
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await new Promise<void>((resolve) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        lines.push(line);
        if (line.includes('"msg":"ready"')) resolve();
      });
    });
    child.disconnect();
    expect(await exited, lines.join('\n')).toBe(0);
    expect(lines.join('\n')).toMatch(/"signal":"parent gone".*"msg":"shutting down"/);
  }, 60_000);

  it('a start failure is one stderr line without credentials, and exit 1', async () => {
    const app = await startFixture({ FIXTURE_START: 'fail' });
    expect(await app.exited).toBe(1);
    const err = app.lines.filter((l) => l.startsWith('[fixture err]'));
    expect(err).toEqual([
      '[fixture err] worker: failed to start: cannot reach redis://fleet:***@10.0.0.1:6379',
    ]);
    expect(app.output()).not.toMatch(/s3cret/);
  }, 60_000);
});
