import { afterEach, describe, expect, it } from 'vitest';
import { createRegistry, type MetricsServer, startMetricsServer, workerMetrics } from '../src/index.js';
import { parsePrometheusText } from './support/text-format.js';

let server: MetricsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('metrics server', () => {
  it('serves /metrics, /healthz and /readyz', async () => {
    const registry = createRegistry({ app: 'worker', enabled: true });
    workerMetrics(registry).jobs.inc(2);
    let ready = false;
    server = await startMetricsServer({
      host: '127.0.0.1',
      port: 0,
      registry,
      health: async () => ({ ok: ready, details: { redis: ready ? 'up' : 'down' } }),
    });
    const base = `http://127.0.0.1:${server.port}`;

    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    const families = parsePrometheusText(await metrics.text());
    expect(families.get('fleet_worker_jobs_total')!.samples[0]!.value).toBe(2);

    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ ok: false, details: { redis: 'down' } });
    ready = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('a throwing health check is not ready and leaks no message', async () => {
    const registry = createRegistry({ app: 'gateway', enabled: true, defaultMetrics: false });
    server = await startMetricsServer({
      host: '127.0.0.1',
      port: 0,
      registry,
      health: async () => {
        throw new Error('redis://user:secret@host failed');
      },
    });
    const res = await fetch(`http://127.0.0.1:${server.port}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.text()).not.toContain('secret');
  });

  it('a disabled registry collects nothing', async () => {
    const registry = createRegistry({ app: 'gateway', enabled: false });
    workerMetrics(registry).jobs.inc();
    expect((await registry.metrics()).trim()).toBe('');
  });
});
