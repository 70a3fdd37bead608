// ops.basic_auth on every app's /metrics, with the apps as real processes (gateway, a 2-process gateway
// cluster whose primary serves the aggregated metrics, persister, worker): 401 without or with wrong
// credentials, 200 with them; /healthz and /readyz answer probes without credentials.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestConfig } from '../helpers/config.js';
import { type AppProcess, spawnApp } from '../helpers/processes.js';
import { cleanupRedisPrefix, type FreshDatabase, freshDatabase, uniquePrefix } from '../helpers/services.js';

const CREDS = { username: 'scraper', password: 'metrics-s3cret' };
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const START_MS = 90_000;

interface Target {
  name: string;
  base: string;
  /** A metric only this app serves. */
  metric: string;
}

const apps: AppProcess[] = [];
let db: FreshDatabase;
let prefix: string;
const targets: Target[] = [];

beforeAll(async () => {
  db = await freshDatabase('obs_metrics_auth');
  prefix = uniquePrefix('metricsauth');
  const written = await writeTestConfig({
    redis: { key_prefix: prefix },
    database: { connection_string: db.url, pool: { max_connections: 2 } },
    handlers: { modules: ['handler.mjs'] },
    ops: { basic_auth: CREDS },
  });
  await writeFile(join(written.dir, 'handler.mjs'), 'export default function register() {}\n');
  const cluster = await writeTestConfig({
    redis: { key_prefix: prefix },
    database: { connection_string: db.url },
    thread_pools: { io: { workers: 2 } },
    ops: { basic_auth: CREDS },
  });
  const env = { FLEET_DATABASE_URL: db.url };
  const persister = spawnApp('persister', { config: written.path, env });
  const gateway = spawnApp('gateway', { config: written.path, env });
  const gatewayCluster = spawnApp('gateway', { config: cluster.path, env });
  const worker = spawnApp('worker', { config: written.path, env });
  apps.push(persister, gateway, gatewayCluster, worker);
  const [p, g, gc, w] = (await Promise.all(apps.map((a) => a.waitReady(START_MS)))).map(
    (line) => JSON.parse(line) as Record<string, unknown>,
  );
  targets.push(
    { name: 'persister', base: p!.ops as string, metric: 'fleet_persister_persist_batch_seconds' },
    { name: 'gateway', base: `http://127.0.0.1:${g!.metrics_port}`, metric: 'fleet_gateway_connections' },
    {
      name: 'gateway cluster primary',
      base: `http://127.0.0.1:${gc!.metrics_port}`,
      metric: 'fleet_gateway_connections',
    },
    { name: 'worker', base: `http://127.0.0.1:${w!.metrics_port}`, metric: 'fleet_worker_jobs_total' },
  );
}, 2 * START_MS);

afterAll(async () => {
  await Promise.all(apps.map((a) => a.stop(10_000)));
  await cleanupRedisPrefix(prefix).catch(() => {});
  await db?.drop().catch(() => {});
}, 60_000);

describe('ops.basic_auth guards /metrics of every app', () => {
  // Mutations tried, one at a time: `basicAuth: cfg.ops.basic_auth` removed from the startMetricsServer
  // call of the worker (apps/worker/src/worker.ts), of the gateway, and of the gateway cluster primary
  // (apps/gateway/src/main.ts): each time this test failed on that app's 401.
  it('401 without or with wrong credentials, 200 with them', async () => {
    expect(targets.map((t) => t.name)).toHaveLength(4);
    for (const t of targets) {
      const none = await fetch(`${t.base}/metrics`);
      expect(none.status, `${t.name} without credentials`).toBe(401);
      expect(none.headers.get('www-authenticate'), t.name).toMatch(/^Basic realm=/);
      const wrong = await fetch(`${t.base}/metrics`, {
        headers: { authorization: basic(CREDS.username, 'x') },
      });
      expect(wrong.status, `${t.name} with a wrong password`).toBe(401);
      const ok = await fetch(`${t.base}/metrics`, {
        headers: { authorization: basic(CREDS.username, CREDS.password) },
      });
      expect(ok.status, `${t.name} with the credentials`).toBe(200);
      expect(await ok.text(), t.name).toContain(t.metric);
    }
  });

  it('/healthz and /readyz answer probes without credentials', async () => {
    for (const t of targets) {
      expect((await fetch(`${t.base}/healthz`)).status, `${t.name} /healthz`).toBe(200);
      // The cluster primary has no readiness of its own (default: ready); every other app is ready by now.
      expect((await fetch(`${t.base}/readyz`)).status, `${t.name} /readyz`).toBe(200);
    }
  });
});
