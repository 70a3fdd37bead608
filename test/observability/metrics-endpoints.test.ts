// /metrics of each app, run as real processes (gateway, persister, worker on one config, every port 0):
// after traffic (completed, failing-then-dead, unrouted messages, a bad frame, a config reload) each
// endpoint parses with the strict Prometheus text parser and holds the fleet's metrics. Then a fleet with
// monitoring.enabled: false collects and serves nothing.
import { appendFile, writeFile } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { connect } from '@fleet/client';
import { afterAll, describe, expect, it } from 'vitest';
import { type MetricFamily, parsePrometheusText } from '../../packages/metrics/test/support/text-format.js';
import { writeTestConfig } from '../helpers/config.js';
import { type AppProcess, spawnApp } from '../helpers/processes.js';
import { cleanupRedisPrefix, type FreshDatabase, freshDatabase, uniquePrefix } from '../helpers/services.js';

const HANDLER = `
export default function register(router) {
  router.subscribe('obs.ok', () => {});
  router.subscribe('obs.fail', () => { throw new Error('always fails'); });
}
`;

interface Fleet {
  gateway: AppProcess;
  persister: AppProcess;
  worker: AppProcess;
  ready: {
    gateway: Record<string, unknown>;
    persister: Record<string, unknown>;
    worker: Record<string, unknown>;
  };
  configPath: string;
  prefix: string;
  db: FreshDatabase;
}
const fleets: Fleet[] = [];

async function startFleet(name: string, monitoring: boolean): Promise<Fleet> {
  const db = await freshDatabase(name);
  const prefix = uniquePrefix(name);
  const written = await writeTestConfig({
    redis: { key_prefix: prefix },
    database: { connection_string: db.url, pool: { max_connections: 4 } },
    handlers: { modules: ['handler.mjs'] },
    monitoring: { enabled: monitoring, interval_ms: 200, topic_labels: ['obs.ok', 'obs.fail'] },
    streams: { block_ms: 50 },
    retry: { max_retries: 1, backoff_ms: 10, backoff_max_ms: 50, sweep_interval_ms: 1_000 },
  });
  await writeFile(join(written.dir, 'handler.mjs'), HANDLER);
  const env = { FLEET_DATABASE_URL: db.url };
  const persister = spawnApp('persister', { config: written.path, env });
  const gateway = spawnApp('gateway', { config: written.path, env });
  const worker = spawnApp('worker', { config: written.path, env });
  const fleet = { gateway, persister, worker, configPath: written.path, prefix, db } as Fleet;
  fleets.push(fleet);
  const [g, p, w] = await Promise.all([gateway, persister, worker].map((a) => a.waitReady(60_000)));
  fleet.ready = { gateway: JSON.parse(g!), persister: JSON.parse(p!), worker: JSON.parse(w!) };
  return fleet;
}

afterAll(async () => {
  for (const f of fleets) {
    await Promise.all([f.gateway, f.worker, f.persister].map((a) => a.stop(5_000)));
    await cleanupRedisPrefix(f.prefix).catch(() => {});
    await f.db.drop().catch(() => {});
  }
}, 60_000);

async function scrape(url: string): Promise<Map<string, MetricFamily>> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return parsePrometheusText(await res.text());
}

/** Polls until every name has at least one sample (labelled series appear after their first update). */
async function scrapeUntil(
  url: string,
  names: string[],
  timeoutMs = 20_000,
): Promise<Map<string, MetricFamily>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const families = await scrape(url);
    const missing = names.filter((n) => !(families.get(n)?.samples.length ?? 0));
    if (missing.length === 0) return families;
    if (Date.now() > end) throw new Error(`${url}: no samples for ${missing.join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function labelValues(f: MetricFamily | undefined, label: string): string[] {
  return [...new Set((f?.samples ?? []).map((s) => s.labels[label]).filter((v): v is string => !!v))];
}

const PROCESS_METRICS = [
  'fleet_process_cpu_user_seconds_total',
  'fleet_process_resident_memory_bytes',
  'fleet_nodejs_eventloop_lag_seconds',
];

describe('/metrics of every app', () => {
  it('serves the fleet metrics after traffic, parseable by a strict Prometheus parser', async () => {
    const f = await startFleet('obs_metrics', true);
    const gatewayPort = f.ready.gateway.port as number;
    const gatewayMetrics = `http://127.0.0.1:${f.ready.gateway.metrics_port}/metrics`;
    const workerMetrics = `http://127.0.0.1:${f.ready.worker.metrics_port}/metrics`;
    const persisterMetrics = `${f.ready.persister.ops}/metrics`;
    expect(f.ready.gateway.metrics_port).toBeGreaterThan(0);
    expect(f.ready.worker.metrics_port).toBeGreaterThan(0);

    const client = await connect({ host: '127.0.0.1', port: gatewayPort, clientName: 'obs-metrics' });
    try {
      await Promise.all([
        ...Array.from({ length: 20 }, (_, i) => client.publish('obs.ok', { i })),
        client.publish('obs.fail', { fail: true }),
        client.publish('nobody.listens', { lost: true }),
      ]);
    } finally {
      await client.close();
    }
    // A bad frame: the gateway answers with an error code and closes that connection.
    await new Promise<void>((resolve) => {
      const s = tcpConnect(gatewayPort, '127.0.0.1', () => s.write(Buffer.alloc(64, 0xff)));
      s.on('data', () => {});
      s.on('close', () => resolve());
      s.on('error', () => resolve());
    });
    // One applied reload (text changed) and one rejected (invalid), then the good file again.
    // Each write waits until the gateway counted it (a fixed sleep let a slow watcher coalesce the writes).
    const reloaded = async (result: 'applied' | 'rejected') => {
      const end = Date.now() + 20_000;
      for (;;) {
        const fam = (await scrape(gatewayMetrics)).get('fleet_config_reloads_total');
        if (fam?.samples.some((x) => x.labels.result === result && x.value >= 1)) return;
        if (Date.now() > end) throw new Error(`gateway counted no ${result} reload`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await appendFile(f.configPath, '# touched by the metrics test\n');
    await reloaded('applied');
    const good = await import('node:fs/promises').then((fs) => fs.readFile(f.configPath, 'utf8'));
    await writeFile(f.configPath, 'messaging_system:\n  network: {port: "not a port"}\n');
    await reloaded('rejected');
    await writeFile(f.configPath, good);

    const gw = await scrapeUntil(gatewayMetrics, [
      'fleet_gateway_messages_received_total',
      'fleet_gateway_message_bytes_total',
      'fleet_gateway_ack_latency_seconds',
      'fleet_gateway_connections',
      'fleet_gateway_connections_total',
      'fleet_gateway_errors_total',
      'fleet_gateway_frames_in_total',
      'fleet_gateway_redis_append_batch_size',
      'fleet_gateway_overloaded',
      'fleet_gateway_redis_memory_ratio',
      'fleet_gateway_ingest_backlog_messages',
      'fleet_config_reloads_total',
      ...PROCESS_METRICS,
    ]);
    expect(labelValues(gw.get('fleet_gateway_messages_received_total'), 'topic')).toContain('obs.ok');
    expect(gw.get('fleet_gateway_ack_latency_seconds')?.type).toBe('histogram');
    expect(labelValues(gw.get('fleet_gateway_errors_total'), 'code').length).toBeGreaterThan(0);
    expect(labelValues(gw.get('fleet_config_reloads_total'), 'result').sort()).toEqual([
      'applied',
      'rejected',
    ]);
    // The shared test Redis has no maxmemory and a tiny backlog: no pressure.
    expect(gw.get('fleet_gateway_overloaded')!.samples[0]!.value).toBe(0);
    for (const fam of gw.values()) for (const s of fam.samples) expect(s.labels.app).toBe('gateway');

    const wk = await scrapeUntil(workerMetrics, [
      'fleet_worker_messages_processed_total',
      'fleet_message_latency_seconds',
      'fleet_worker_handler_seconds',
      'fleet_worker_handler_errors_total',
      'fleet_worker_unrouted_total',
      'fleet_worker_jobs_total',
      'fleet_worker_inflight',
      'fleet_config_reloads_total',
      ...PROCESS_METRICS,
    ]);
    const processed = wk.get('fleet_worker_messages_processed_total')!;
    expect(labelValues(processed, 'topic')).toEqual(expect.arrayContaining(['obs.ok', 'obs.fail']));
    expect(labelValues(processed, 'status')).toEqual(expect.arrayContaining(['COMPLETED', 'FAILED', 'DEAD']));
    expect(wk.get('fleet_message_latency_seconds')?.type).toBe('histogram');

    const ps = await scrapeUntil(persisterMetrics, [
      'fleet_persister_messages_persisted_total',
      'fleet_persister_persist_batch_seconds',
      'fleet_persister_persist_batch_size',
      'fleet_persister_pg_query_seconds',
      'fleet_persister_pg_pool_connections',
      'fleet_persister_pg_pool_idle',
      'fleet_persister_pg_pool_waiting',
      'fleet_stream_length',
      'fleet_stream_lag',
      'fleet_stream_pending',
      'fleet_queue_jobs',
      'fleet_persister_retries_total',
      'fleet_dead_letters_total',
      'fleet_persister_jobs_enqueued_total',
      'fleet_persister_memory_paused',
      'fleet_config_reloads_total',
      ...PROCESS_METRICS,
    ]);
    expect(labelValues(ps.get('fleet_persister_messages_persisted_total'), 'topic')).toContain('obs.ok');
    expect(labelValues(ps.get('fleet_persister_pg_query_seconds'), 'op')).toEqual(
      expect.arrayContaining(['persist_batch', 'apply_statuses']),
    );
    expect(labelValues(ps.get('fleet_queue_jobs'), 'state')).toEqual(
      expect.arrayContaining(['waiting', 'active', 'delayed', 'failed']),
    );
    expect(labelValues(ps.get('fleet_dead_letters_total'), 'reason')).toContain('max_retries');
    expect(ps.get('fleet_persister_retries_total')!.samples[0]!.value).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('monitoring.enabled: false collects and serves nothing', async () => {
    const f = await startFleet('obs_nometrics', false);
    expect(f.ready.gateway.metrics_port).toBeUndefined();
    expect(f.ready.worker.metrics_port).toBeUndefined();
    const client = await connect({ host: '127.0.0.1', port: f.ready.gateway.port as number });
    try {
      await client.publish('obs.ok', { quiet: true });
    } finally {
      await client.close();
    }
    const res = await fetch(`${f.ready.persister.ops}/metrics`);
    const families = parsePrometheusText(await res.text());
    expect([...families.keys()]).toEqual([]);
  }, 120_000);
});
