// ops.basic_auth on the gateway's and worker's metrics server (startMetricsServer): /metrics needs the
// credentials unless publicMetrics; the probes never do. The apps' wiring is checked with real processes
// in test/observability/metrics-auth.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import {
  basicAuthMatches,
  createRegistry,
  type MetricsServer,
  startMetricsServer,
  workerMetrics,
} from '../src/index.js';

const CREDS = { username: 'ops', password: 'p:ss wörd' };
const header = (user: string, pass: string) =>
  `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}`;

let server: MetricsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(publicMetrics = false): Promise<string> {
  const registry = createRegistry({ app: 'worker', enabled: true, defaultMetrics: false });
  workerMetrics(registry).jobs.inc(3);
  server = await startMetricsServer({
    host: '127.0.0.1',
    port: 0,
    registry,
    basicAuth: CREDS,
    publicMetrics,
    health: async () => ({ ok: true }),
  });
  return `http://127.0.0.1:${server.port}`;
}

describe('metrics server with basic auth', () => {
  // Mutation tried: `guard && !basicAuthMatches(...)` -> `false &&` in server.ts: the 401 expectations failed.
  it('/metrics answers 401 with a challenge without or with wrong credentials, 200 with the right ones', async () => {
    const base = await start();
    const none = await fetch(`${base}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    expect(await none.text()).not.toContain('fleet_worker_jobs_total');
    for (const wrong of [header('ops', 'nope'), header('nope', CREDS.password), 'Bearer x', 'Basic !!!'])
      expect((await fetch(`${base}/metrics`, { headers: { authorization: wrong } })).status, wrong).toBe(401);
    const ok = await fetch(`${base}/metrics`, {
      headers: { authorization: header(CREDS.username, CREDS.password) },
    });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/fleet_worker_jobs_total\{[^}]*\} 3/);
  });

  it('/healthz and /readyz stay open to probes and say only up/ready', async () => {
    const base = await start();
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ok: true });
  });

  // Mutation tried: `opts.publicMetrics ? undefined : opts.basicAuth` -> `opts.basicAuth`: this test failed.
  it('publicMetrics serves /metrics without credentials; the server stays read-only', async () => {
    const base = await start(true);
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/fleet_worker_jobs_total\{[^}]*\} 3/);
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'])
      expect((await fetch(`${base}/metrics`, { method })).status, method).toBe(405);
  });
});

describe('basicAuthMatches', () => {
  // Mutation tried: `return userOk && passOk` -> `return passOk` in basic-auth.ts: this test failed.
  it('accepts exactly the credentials (UTF-8, colons in the password, any scheme case)', () => {
    expect(basicAuthMatches(header('ops', 'p:ss wörd'), CREDS)).toBe(true);
    expect(basicAuthMatches(header('ops', 'p:ss wörd').replace('Basic', 'basic'), CREDS)).toBe(true);
    for (const h of [
      undefined,
      '',
      'Basic',
      'Basic ',
      header('ops', 'p:ss'),
      header('ops', 'p:ss wörd '),
      header('op', 'p:ss wörd'),
      header('', ''),
    ])
      expect(basicAuthMatches(h, CREDS), String(h)).toBe(false);
  });
});
