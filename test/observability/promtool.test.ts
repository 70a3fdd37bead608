// The ecosystem's own checker on Fleet's metrics and alerts: the three apps run as real processes, get
// traffic (completed, failing -> dead, unrouted, durable publishes, a bad frame, a rejected then a good
// config reload), and each /metrics passes `promtool check metrics`; config/alerts.yml passes `promtool check rules` and
// the rule unit tests of config/alerts.test.yml (`promtool test rules`), config/prometheus.yml (which loads
// it) `promtool check config`; and every metric an alert names is one an app really serves.
// promtool comes with Debian's `prometheus` package (.ci/run installs it). Without it these cases skip, or
// fail with one line under FLEET_TEST_STRICT=1 (CI).
// Mutations tried, each failing this file, then restored:
// - createRegistry without dropping prom-client's `*_total` gauges: `promtool check metrics` named
//   fleet_nodejs_active_handles_total (and requests, resources) on every app;
// - `fleet_persister_pg_pool_total` back as the pool gauge's name: check metrics failed on the persister;
// - an alert on `fleet_persister_readiness` (a name no app serves): "alerts name only served metrics" failed;
// - FleetDependencyDown with `for: 0m`: `promtool test rules` failed (it fired at 2m, expected quiet).
// - fleet_build_info without `aggregator: 'first'`: the gateway cluster's primary served it as 2.
// Under FLEET_TEST_STRICT=1 with promtool off PATH, the promtool cases failed with MISSING; without, skipped.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { connect } from '@fleet/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type MetricFamily, parsePrometheusText } from '../../packages/metrics/test/support/text-format.js';
import { writeTestConfig } from '../helpers/config.js';
import { type AppProcess, REPO_ROOT, spawnApp } from '../helpers/processes.js';
import {
  cleanupRedisPrefix,
  type FreshDatabase,
  freshDatabase,
  strictRun,
  uniquePrefix,
} from '../helpers/services.js';

const MISSING = 'promtool is not installed (apt-get install prometheus brings it)';
const hasPromtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;
/** Skipped without promtool, except in a strict run, where the case fails with MISSING. */
const withPromtool = it.skipIf(!hasPromtool && !strictRun());
function requirePromtool(): void {
  if (!hasPromtool) throw new Error(`${MISSING}: a strict run (FLEET_TEST_STRICT=1, CI) needs it`);
}

/** promtool's exit status and everything it printed. */
function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { cwd: REPO_ROOT, input, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const alertsText = readFileSync(join(REPO_ROOT, 'config/alerts.yml'), 'utf8');
const rules = (parse(alertsText) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

const PROMQL_KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'group_left', 'group_right']);
/**
 * The metric names a PromQL expression selects: what is left after dropping strings, label matchers,
 * grouping label lists, range durations, numbers, keywords and function names (followed by `(`).
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"[^"]*"/g, '')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\[[^\]]*\]/g, '');
  return [...bare.matchAll(/(?<![\w.:])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()/g)]
    .map((m) => m[1]!)
    .filter((n) => !PROMQL_KEYWORDS.has(n));
}

describe('config/alerts.yml', () => {
  it('has the alerts the issue asks for, each with for:, a severity and runbook annotations', () => {
    expect(rules.map((r) => r.alert).sort()).toEqual(
      [
        'FleetAutovacuumOff',
        'FleetBacklogAge',
        'FleetConfigReloadFailed',
        'FleetDeadLettersGrowing',
        'FleetDependencyDown',
        'FleetDurableAckLatencyHigh',
        'FleetIngestLag',
        'FleetNoWorkerConsuming',
        'FleetPersisterAbsent',
        'FleetPersisterNotReady',
      ].sort(),
    );
    const operations = readFileSync(join(REPO_ROOT, 'docs/operations.md'), 'utf8');
    // GitHub's heading anchors: lower case, spaces to dashes, punctuation dropped.
    const anchors = new Set(
      [...operations.matchAll(/^#+ (.+)$/gm)].map((m) =>
        m[1]!
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replace(/ /g, '-'),
      ),
    );
    for (const r of rules) {
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      expect(['warning', 'critical'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(r.annotations?.description, r.alert).toBeTruthy();
      const runbook = r.annotations?.runbook ?? '';
      expect(runbook, r.alert).toMatch(/^docs\/operations\.md#/);
      expect(anchors, `${r.alert}: ${runbook}`).toContain(runbook.split('#')[1]);
      expect(metricNames(r.expr).length, r.alert).toBeGreaterThan(0);
    }
  });

  withPromtool('passes promtool check rules and the rule unit tests; prometheus.yml loads it', () => {
    requirePromtool();
    const checked = promtool(['check', 'rules', 'config/alerts.yml']);
    expect(checked.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(checked.status).toBe(0);
    const tested = promtool(['test', 'rules', 'config/alerts.test.yml']);
    expect(tested.output, tested.output).toContain('SUCCESS');
    expect(tested.status).toBe(0);
    const config = promtool(['check', 'config', 'config/prometheus.yml']);
    expect(config.output).toContain('SUCCESS: 1 rule files found');
    expect(config.status).toBe(0);
  });
});

const HANDLER = `
export default function register(router) {
  router.subscribe('prom.ok', () => {});
  router.subscribe('prom.fail', () => { throw new Error('always fails'); });
}
`;

describe('/metrics of every app, after traffic', () => {
  let apps: Record<'gateway' | 'gatewayCluster' | 'persister' | 'worker', AppProcess> | undefined;
  let db: FreshDatabase | undefined;
  let prefix = '';
  const urls: Record<string, string> = {};
  const scraped = new Map<string, { text: string; families: Map<string, MetricFamily> }>();

  const scrape = async (app: string) => {
    const res = await fetch(urls[app]!);
    expect(res.status).toBe(200);
    const text = await res.text();
    return { text, families: parsePrometheusText(text) };
  };
  /**
   * Scrapes until every name has a sample (labelled series appear after their first update) and `ok`, if
   * given, holds (`what` says what it waits for).
   */
  const scrapeUntil = async (
    app: string,
    names: string[],
    ok = (_f: Map<string, MetricFamily>) => true,
    what = 'the condition',
  ) => {
    const end = Date.now() + 30_000;
    for (;;) {
      const s = await scrape(app);
      const missing = names.filter((n) => !(s.families.get(n)?.samples.length ?? 0));
      if (missing.length === 0 && ok(s.families)) return s;
      if (Date.now() > end)
        throw new Error(`${app}: ${missing.length ? `no samples for ${missing.join(', ')}` : `no ${what}`}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const gaugeValue = (f: Map<string, MetricFamily>, name: string) => f.get(name)?.samples[0]?.value;

  beforeAll(async () => {
    db = await freshDatabase('promtool');
    prefix = uniquePrefix('promtool');
    const written = await writeTestConfig({
      redis: { key_prefix: prefix },
      database: { connection_string: db.url, pool: { max_connections: 4 } },
      handlers: { modules: ['handler.mjs'] },
      monitoring: { enabled: true, interval_ms: 200, topic_labels: ['prom.ok', 'prom.fail'] },
      streams: { block_ms: 50 },
      retry: { max_retries: 1, backoff_ms: 10, backoff_max_ms: 50, sweep_interval_ms: 1_000 },
    });
    await writeFile(join(written.dir, 'handler.mjs'), HANDLER);
    // A gateway of two processes: its primary serves their metrics aggregated (prom-client's cluster support).
    const cluster = await writeTestConfig({
      redis: { key_prefix: prefix },
      database: { connection_string: db.url },
      thread_pools: { io: { workers: 2 } },
    });
    const env = { FLEET_DATABASE_URL: db.url };
    apps = {
      persister: spawnApp('persister', { config: written.path, env }),
      gateway: spawnApp('gateway', { config: written.path, env }),
      gatewayCluster: spawnApp('gateway', { config: cluster.path, env }),
      worker: spawnApp('worker', { config: written.path, env }),
    };
    const [g, p, w, gc] = await Promise.all(
      [apps.gateway, apps.persister, apps.worker, apps.gatewayCluster].map(async (a) =>
        JSON.parse(await a.waitReady(60_000)),
      ),
    );
    urls.gateway = `http://127.0.0.1:${g.metrics_port}/metrics`;
    urls['gateway cluster'] = `http://127.0.0.1:${gc.metrics_port}/metrics`;
    urls.persister = `${p.ops}/metrics`;
    urls.worker = `http://127.0.0.1:${w.metrics_port}/metrics`;

    const client = await connect({ host: '127.0.0.1', port: g.port as number, clientName: 'promtool' });
    try {
      await Promise.all([
        ...Array.from({ length: 10 }, (_, i) => client.publish('prom.ok', { i })),
        ...Array.from({ length: 3 }, (_, i) => client.publish('prom.ok', { i }, { ack: 'durable' })),
        client.publish('prom.fail', { fail: true }),
        client.publish('nobody.listens', { lost: true }),
      ]);
    } finally {
      await client.close();
    }
    // A bad frame: the gateway answers with an error code (fleet_gateway_errors_total) and closes.
    await new Promise<void>((resolve) => {
      const s = tcpConnect(g.port as number, '127.0.0.1', () => s.write(Buffer.alloc(64, 0xff)));
      s.on('data', () => {});
      s.on('close', () => resolve());
      s.on('error', () => resolve());
    });
    // A rejected config file, then the good one back: fleet_config_last_reload_successful goes 0 then 1.
    // Mutation tried: the gauge left at 1 on a rejected reload (bootstrap.ts): the wait for 0 failed.
    const good = await readFile(written.path, 'utf8');
    await writeFile(written.path, 'messaging_system:\n  network: {port: "not a port"}\n');
    const lastReload = (v: number) => (f: Map<string, MetricFamily>) =>
      gaugeValue(f, 'fleet_config_last_reload_successful') === v;
    await scrapeUntil(
      'gateway',
      [],
      lastReload(0),
      'fleet_config_last_reload_successful 0 after a rejected file',
    );
    await writeFile(written.path, good);
    await appendFile(written.path, '# changed, so the reload applies\n');
    await scrapeUntil(
      'gateway',
      [],
      lastReload(1),
      'fleet_config_last_reload_successful 1 after a good file',
    );

    const everyApp = [
      'fleet_build_info',
      'fleet_config_reloads_total',
      'fleet_config_last_reload_successful',
    ];
    scraped.set(
      'gateway',
      await scrapeUntil('gateway', [
        ...everyApp,
        'fleet_gateway_messages_received_total',
        'fleet_gateway_durable_ack_latency_seconds',
        'fleet_gateway_errors_total',
      ]),
    );
    // Its config file was not touched: no reload counted yet.
    scraped.set(
      'gateway cluster',
      await scrapeUntil('gateway cluster', ['fleet_build_info', 'fleet_config_last_reload_successful']),
    );
    scraped.set(
      'worker',
      await scrapeUntil('worker', [
        ...everyApp,
        'fleet_worker_messages_processed_total',
        'fleet_worker_handler_errors_total',
      ]),
    );
    scraped.set(
      'persister',
      await scrapeUntil(
        'persister',
        [
          ...everyApp,
          'fleet_persister_messages_persisted_total',
          'fleet_dead_letters_total',
          'fleet_persister_dependency_up',
          'fleet_persister_pg_autovacuum_enabled',
          'fleet_stream_backlog_age_seconds',
          'fleet_stream_lag',
          'fleet_queue_jobs',
        ],
        (f) => gaugeValue(f, 'fleet_persister_ready') === 1,
        'fleet_persister_ready 1',
      ),
    );
  }, 180_000);

  afterAll(async () => {
    if (apps) await Promise.all(Object.values(apps).map((a) => a.stop(5_000)));
    await cleanupRedisPrefix(prefix).catch(() => {});
    await db?.drop().catch(() => {});
  }, 60_000);

  const APPS = ['gateway', 'gateway cluster', 'persister', 'worker'];
  withPromtool.each(APPS)('%s: promtool check metrics finds no problem', (app) => {
    requirePromtool();
    const { status, output } = promtool(['check', 'metrics'], scraped.get(app)!.text);
    expect(output).toBe('');
    expect(status).toBe(0);
  });

  // A cluster primary sums its processes' series; build info is taken from the first (1, not 2).
  it.each(APPS)('%s: fleet_build_info says the version and runtime', (name) => {
    const app = name.split(' ')[0]!;
    const info = scraped.get(name)!.families.get('fleet_build_info')!;
    expect(info.type).toBe('gauge');
    const version = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version;
    expect(info.samples).toEqual([
      { name: 'fleet_build_info', labels: { app, version, node_version: process.versions.node }, value: 1 },
    ]);
  });

  // Mutation tried: the durableAckLatency call removed from Waiters.ackDurable: count 0, this case failed.
  it('gateway: the durable publishes are timed in fleet_gateway_durable_ack_latency_seconds', () => {
    const f = scraped.get('gateway')!.families.get('fleet_gateway_durable_ack_latency_seconds')!;
    expect(f.type).toBe('histogram');
    expect(f.samples.find((s) => s.name.endsWith('_count'))?.value).toBe(3);
    // The stream ACK histogram keeps timing the others only.
    const stream = scraped.get('gateway')!.families.get('fleet_gateway_ack_latency_seconds')!;
    expect(stream.samples.find((s) => s.name.endsWith('_count'))?.value).toBeGreaterThanOrEqual(10);
  });

  it('alerts name only metrics some app serves', () => {
    const served = new Set<string>();
    for (const { families } of scraped.values())
      for (const f of families.values()) {
        served.add(f.name);
        if (f.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) served.add(f.name + s);
      }
    const unknown = rules.flatMap((r) =>
      metricNames(r.expr)
        .filter((n) => !served.has(n))
        .map((n) => `${r.alert}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });
});
