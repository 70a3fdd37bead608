// No cluster runs here: this test renders deploy/k8s as kustomize would (test/helpers/kustomize.ts), validates
// every object against the Kubernetes, KEDA and prometheus-operator schemas (kubernetes-models), and keeps the
// manifests agreeing with the apps: ports, env names, probe paths (answered without the ops password by the
// apps' own servers), config, commands, the image's user, shutdown deadlines and the metric KEDA scales on.
// The schemas check types, enums and required fields; they allow unknown fields (the Kubernetes OpenAPI
// does), which only the API server's strict field validation refuses.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ENV_ALIASES,
  ENV_PREFIX,
  exposureProblem,
  type FleetConfig,
  type OpsApp,
  parseConfig,
  readEnvOverrides,
  resolveConfigPath,
} from '@fleet/config';
import { createRegistry, persisterMetrics, QUEUE_JOB_STATES, startMetricsServer } from '@fleet/metrics';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startOpsServer } from '../../apps/persister/src/ops-server.js';
import { build, type K8sObject, literalPairs, readKustomization } from '../helpers/kustomize.js';
import { strictRun, testTempDir } from '../helpers/services.js';

const BASE = 'deploy/k8s/base';
const OVERLAY = 'deploy/k8s/overlays/example';
const APPS = ['gateway', 'persister', 'worker'] as const satisfies readonly OpsApp[];
/** The directory the image runs in (Dockerfile WORKDIR): paths under it are the repository's. */
const IMAGE_ROOT = '/app/';
/** uid of `node` in the node:24 images (the Dockerfile's USER). */
const NODE_UID = 1000;

// Every kind the manifests may hold, by apiVersion/kind: an object of any other kind fails the test.
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Namespace': Namespace,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

const base = build(BASE);
const overlay = build(OVERLAY);
const overlayKustomization = readKustomization(OVERLAY);
/** The placeholder values of the example overlay's Secret, standing in for a site's. */
const secretValues = literalPairs(overlayKustomization.secretGenerator?.[0]?.literals);
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true });
const dockerfile = readFileSync('Dockerfile', 'utf8');

function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind}/${name}`);
  return o;
}

// biome-ignore lint/suspicious/noExplicitAny: manifest fields, checked one by one
type Container = any;
const deployment = (objects: K8sObject[], app: string) => find(objects, 'Deployment', `fleet-${app}`);
const container = (objects: K8sObject[], app: string): Container =>
  deployment(objects, app).spec.template.spec.containers[0];

/** The container's env as the app sees it: literal values, and secretKeyRefs from the Secret's values. */
function envOf(c: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef) {
      const value = secretValues[e.valueFrom.secretKeyRef.key];
      if (value === undefined)
        throw new Error(`${e.name}: the Secret has no key ${e.valueFrom.secretKeyRef.key}`);
      env[e.name] = value;
    }
  }
  return env;
}

/** fleet.yaml as mounted (the config volume's ConfigMap), loaded by `fleet config check`'s logic. */
function configFor(objects: K8sObject[], app: string): { cfg: FleetConfig; path: string } {
  const c = container(objects, app);
  const path = c.command[c.command.indexOf('--config') + 1] as string;
  const mount = c.volumeMounts.find((m: { mountPath: string }) => path.startsWith(`${m.mountPath}/`));
  const volume = deployment(objects, app).spec.template.spec.volumes.find(
    (v: { name: string }) => v.name === mount.name,
  );
  const cm = find(objects, 'ConfigMap', volume.configMap.name);
  const text = cm.data?.[path.slice(mount.mountPath.length + 1)];
  if (text === undefined) throw new Error(`ConfigMap ${cm.metadata.name} has no ${path}`);
  // parseConfig of the file's text: what loadConfigFile (`fleet config check`) does after reading it.
  return { cfg: parseConfig(text, { file: `ConfigMap ${cm.metadata.name} ${path}`, env: envOf(c) }), path };
}

/** The port numbers the app listens on, by the container port name the manifests use. */
function appPorts(app: (typeof APPS)[number], cfg: FleetConfig): Record<string, number> {
  if (app === 'gateway') return { fleet: cfg.network.port, metrics: cfg.ops.gateway_metrics_port };
  if (app === 'persister') return { ops: cfg.ops.port };
  return { metrics: cfg.ops.worker_metrics_port };
}

const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

describe.each([
  { name: 'base', objects: base },
  { name: 'example overlay', objects: overlay },
])('deploy/k8s $name', ({ objects }) => {
  // Mutation tried: the worker's containerPort `abc`: this failed (and the port checks below).
  it('every object is valid against its schema (kubernetes-models, KEDA, prometheus-operator)', () => {
    const kinds = objects.map((o) => `${o.apiVersion}/${o.kind}`);
    expect(kinds.filter((k) => !MODELS[k])).toEqual([]);
    for (const o of objects) {
      const Model = MODELS[`${o.apiVersion}/${o.kind}`]!;
      expect(() => new Model(o as never).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
    }
  });

  it.each(APPS)('%s: fleet.yaml with the env passes `fleet config check` and the exposure rule', (app) => {
    const { cfg } = configFor(objects, app);
    expect(exposureProblem(cfg, app)).toBeNull();
    // Probes and scrapes reach the pod IP: the listeners must not be loopback-only.
    expect(cfg.ops.host).toBe('0.0.0.0');
    expect(cfg.monitoring.enabled).toBe(true); // gateway and worker serve their probes with /metrics
    expect(cfg.ops.public_metrics).toBe(true); // the ServiceMonitor sends no credentials
    expect(cfg.ops.basic_auth?.password).toBe(secretValues['ops-password']);
  });

  // Mutation tried: FLEET_OPS__BASIC_AUTH__PASWORD in the persister: this failed (and the exposure rule).
  it.each(APPS)(
    '%s: every env var is a config override packages/config reads; secrets come from the Secret',
    (app) => {
      const c = container(objects, app);
      const names: string[] = (c.env ?? []).map((e: { name: string }) => e.name);
      // FLEET_ names without `__` other than the aliases would be ignored silently.
      for (const n of names) {
        expect(n.startsWith(ENV_PREFIX), n).toBe(true);
        expect(n.includes('__') || n in ENV_ALIASES, n).toBe(true);
      }
      const { overrides, problems } = readEnvOverrides(envOf(c));
      expect(problems).toEqual([]);
      expect(overrides.map((o) => o.variable).sort()).toEqual([...names].sort());
      for (const o of overrides) {
        // The schema marks the whole basic_auth mapping secret; its user name is not.
        if (!o.secret || o.variable === 'FLEET_OPS__BASIC_AUTH__USERNAME') continue;
        const ref = c.env.find((e: { name: string }) => e.name === o.variable).valueFrom?.secretKeyRef;
        expect(ref?.name, `${o.variable} from the Secret`).toBe('fleet-secrets');
      }
    },
  );

  // Mutation tried: ops.gateway_metrics_port 7412 in fleet.yaml: this and the probe-port case failed.
  it.each(APPS)('%s: container ports are the ports the config gives the app', (app) => {
    const { cfg } = configFor(objects, app);
    const ports = Object.fromEntries(
      container(objects, app).ports.map((p: { name: string; containerPort: number }) => [
        p.name,
        p.containerPort,
      ]),
    );
    expect(ports).toEqual(appPorts(app, cfg));
  });

  it.each(APPS)('%s: runs the bundle the image holds, with the mounted ConfigMap as its config', (app) => {
    const c = container(objects, app);
    // The same command as docker-compose.yml (the compose test checks it against the build).
    expect(c.command).toEqual(compose.services[app].command);
    expect(dockerfile).toMatch(new RegExp(`^WORKDIR ${IMAGE_ROOT.slice(0, -1)}$`, 'm'));
    // The bundle `npm run build` writes in the image's build stage (scripts/build-app.mjs: the compose
    // test checks that it writes dist/main.js).
    expect(c.command.slice(0, 2)).toEqual(['node', `apps/${app}/dist/main.js`]);
    expect(JSON.parse(readFileSync(`apps/${app}/package.json`, 'utf8')).scripts.build).toContain(
      'build-app.mjs',
    );
    expect(dockerfile).toMatch(/^RUN npm run build$/m);
    const { cfg, path } = configFor(objects, app);
    // A directory mount (no subPath, every key): the kubelet's `..data` swap reaches the watcher.
    const mount = c.volumeMounts.find((m: { mountPath: string }) => path.startsWith(`${m.mountPath}/`));
    expect(mount.subPath).toBeUndefined();
    expect(mount.readOnly).toBe(true);
    const volume = deployment(objects, app).spec.template.spec.volumes.find(
      (v: { name: string }) => v.name === mount.name,
    );
    expect(volume.configMap.items).toBeUndefined();
    // Handler modules resolve next to the mounted file: they must be in the image (COPY examples).
    for (const m of cfg.handlers.modules) {
      const inImage = resolveConfigPath(path, m);
      expect(inImage.startsWith(IMAGE_ROOT), inImage).toBe(true);
      const top = inImage.slice(IMAGE_ROOT.length).split('/')[0]!;
      expect(dockerfile).toMatch(new RegExp(`^COPY (--from=build /app/)?${top} \\./${top}$`, 'm'));
      expect(existsSync(inImage.slice(IMAGE_ROOT.length)), inImage).toBe(true);
    }
  });

  it.each(APPS)('%s: non-root as the image user, read-only root, no capabilities, /tmp writable', (app) => {
    expect(dockerfile).toMatch(/^USER node$/m);
    const pod = deployment(objects, app).spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: NODE_UID });
    expect(pod.automountServiceAccountToken).toBe(false);
    const c = container(objects, app);
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    const tmp = c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/tmp');
    expect(pod.volumes.find((v: { name: string }) => v.name === tmp?.name)?.emptyDir).toBeDefined();
    expect(c.resources.requests).toMatchObject({ cpu: expect.anything(), memory: expect.anything() });
    expect(c.resources.limits).toMatchObject({ cpu: expect.anything(), memory: expect.anything() });
  });

  // Mutation tried: the gateway's readiness path /ready: this failed, and so did the request below.
  it.each(APPS)('%s: probes on the app’s probe port and paths; a PodDisruptionBudget', (app) => {
    const { cfg } = configFor(objects, app);
    const c = container(objects, app);
    const probePort = app === 'persister' ? cfg.ops.port : appPorts(app, cfg).metrics;
    const portOf = (p: { httpGet: { port: string } }) =>
      c.ports.find((x: { name: string }) => x.name === p.httpGet.port)?.containerPort;
    for (const probe of [c.startupProbe, c.livenessProbe]) {
      expect(probe.httpGet.path).toBe('/healthz');
      expect(portOf(probe)).toBe(probePort);
    }
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(portOf(c.readinessProbe)).toBe(probePort);
    const d = deployment(objects, app);
    const pdbs = objects.filter(
      (o) =>
        o.kind === 'PodDisruptionBudget' &&
        matches(o.spec.selector.matchLabels, d.spec.template.metadata.labels),
    );
    expect(pdbs).toHaveLength(1);
    expect(matches(d.spec.selector.matchLabels, d.spec.template.metadata.labels)).toBe(true);
  });

  // Mutation tried: the worker's terminationGracePeriodSeconds at 15 (under 10 s + 10 s): this failed.
  it('termination grace periods cover the apps’ own shutdown deadlines', () => {
    const grace = (app: string) => deployment(objects, app).spec.template.spec.terminationGracePeriodSeconds;
    // Worker: handlers.shutdown_timeout_ms for in-flight jobs, then 10 s for BullMQ's close and Redis QUIT.
    const { cfg } = configFor(objects, 'worker');
    expect(grace('worker') * 1000).toBeGreaterThanOrEqual(cfg.handlers.shutdown_timeout_ms + 10_000);
    // Gateway: its preStop wait plus its fixed close (about 9 s, see gateway.yaml); persister: one batch.
    const preStop = container(objects, 'gateway').lifecycle.preStop.sleep.seconds;
    expect(grace('gateway')).toBeGreaterThanOrEqual(preStop + 15);
    expect(grace('persister')).toBeGreaterThanOrEqual(30);
  });

  it('Services: the gateway client port, ClusterIP metrics/ops Services; each on a port the pods name', () => {
    const { cfg } = configFor(objects, 'gateway');
    const services = objects.filter((o) => o.kind === 'Service');
    for (const s of services) {
      const pods = APPS.filter((app) =>
        matches(s.spec.selector, deployment(objects, app).spec.template.metadata.labels),
      );
      expect(pods, s.metadata.name).toHaveLength(1);
      const names = container(objects, pods[0]!).ports.map((p: { name: string }) => p.name);
      for (const p of s.spec.ports) expect(names, `${s.metadata.name} ${p.name}`).toContain(p.targetPort);
    }
    const client = find(objects, 'Service', 'fleet-gateway');
    expect(client.spec.ports).toEqual([
      { name: 'fleet', port: cfg.network.port, targetPort: 'fleet', protocol: 'TCP' },
    ]);
    // The client port beyond the cluster: clients must hold a token.
    if (client.spec.type !== 'ClusterIP') expect(cfg.auth.tokens.length).toBeGreaterThan(0);
    for (const name of ['fleet-gateway-metrics', 'fleet-persister-ops', 'fleet-worker-metrics'])
      expect(find(objects, 'Service', name).spec.type).toBe('ClusterIP');
  });

  it('the ServiceMonitor scrapes /metrics of every app and nothing else', () => {
    const sm = find(objects, 'ServiceMonitor', 'fleet');
    const endpointPorts = sm.spec.endpoints.map((e: { port: string; path: string }) => {
      expect(e.path).toBe('/metrics');
      return e.port;
    });
    const scraped = objects
      .filter((o) => o.kind === 'Service' && matches(sm.spec.selector.matchLabels, o.metadata.labels))
      .flatMap((s) =>
        s.spec.ports
          .filter((p: { name: string }) => endpointPorts.includes(p.name))
          .map((p: { name: string }) => `${s.metadata.name}:${p.name}`),
      );
    expect(scraped.sort()).toEqual([
      'fleet-gateway-metrics:metrics',
      'fleet-persister-ops:ops',
      'fleet-worker-metrics:metrics',
    ]);
    // The job label: config/prometheus.yml's job names, so rules written for one hold for the other.
    const prom = parse(readFileSync('config/prometheus.yml', 'utf8'));
    const jobs = objects
      .filter((o) => o.kind === 'Service' && scraped.some((s) => s.startsWith(`${o.metadata.name}:`)))
      .map((s) => s.metadata.labels?.[sm.spec.jobLabel]);
    expect(jobs.sort()).toEqual(['gateway', 'persister', 'worker']);
    expect(prom.scrape_configs.map((j: { job_name: string }) => j.job_name)).toEqual(
      expect.arrayContaining(jobs),
    );
  });

  it('the gateway HPA scales on CPU, which the pods request; KEDA scales the workers', () => {
    const hpa = find(objects, 'HorizontalPodAutoscaler', 'fleet-gateway');
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'fleet-gateway',
    });
    expect(hpa.spec.metrics.map((m: { resource: { name: string } }) => m.resource.name)).toEqual(['cpu']);
    expect(container(objects, 'gateway').resources.requests.cpu).toBeDefined();
    const so = find(objects, 'ScaledObject', 'fleet-worker');
    expect(so.spec.scaleTargetRef.name).toBe('fleet-worker');
    // The autoscalers own the replica counts: a fixed count would be reset on every apply.
    expect(deployment(objects, 'gateway').spec.replicas).toBeUndefined();
    expect(deployment(objects, 'worker').spec.replicas).toBeUndefined();
  });

  // Mutation tried: the query on `fleet_queue_waiting` (no such metric): this failed; so did state="wait".
  it('KEDA’s query reads a metric the persister exports, with label values it sets', () => {
    const so = find(objects, 'ScaledObject', 'fleet-worker');
    const registry = createRegistry({ app: 'persister', enabled: true, defaultMetrics: false });
    persisterMetrics(registry);
    for (const t of so.spec.triggers) {
      expect(t.type).toBe('prometheus');
      const query: string = t.metadata.query;
      const names = [...query.matchAll(/\b(fleet_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
      expect(names.length).toBeGreaterThan(0);
      for (const n of names) expect(registry.getSingleMetric(n), n).toBeDefined();
      const states = [...query.matchAll(/\bstate="([^"]*)"/g)].map((m) => m[1]!);
      for (const s of states) expect(QUEUE_JOB_STATES as readonly string[]).toContain(s);
      expect(Number(t.metadata.threshold)).toBeGreaterThan(0);
    }
  });
});

describe('deploy/k8s probes against the apps’ own servers, with the ConfigMap’s config', () => {
  // The servers of the three apps, configured as in the pods but on loopback and free ports. Mutation tried:
  // PROBE_ROUTES emptied in apps/persister/src/ops-server.ts: the persister case failed with 401.
  const closers: (() => Promise<unknown>)[] = [];
  const urls: Partial<Record<(typeof APPS)[number], string>> = {};
  beforeAll(async () => {
    for (const app of ['gateway', 'worker'] as const) {
      const { cfg } = configFor(base, app);
      const registry = createRegistry({ app, enabled: true, defaultMetrics: false });
      const server = await startMetricsServer({
        host: '127.0.0.1',
        port: 0,
        registry,
        basicAuth: cfg.ops.basic_auth,
        publicMetrics: cfg.ops.public_metrics,
      });
      closers.push(() => server.close());
      urls[app] = `http://127.0.0.1:${server.port}`;
    }
    const { cfg } = configFor(base, 'persister');
    const ops = await startOpsServer({
      config: { ...cfg, ops: { ...cfg.ops, host: '127.0.0.1' } },
      // Dead-letter routes only (never called here): the probes and /metrics do not touch them.
      queue: {} as never,
      dispatcher: {} as never,
      bullQueues: [],
      registry: createRegistry({ app: 'persister', enabled: true, defaultMetrics: false }),
      readiness: async () => [],
      port: 0,
    });
    closers.push(() => ops.app.close());
    urls.persister = ops.url;
  });
  afterAll(async () => {
    for (const close of closers) await close();
  });

  it.each(APPS)(
    '%s: the probe paths and /metrics answer without credentials; the rest does not',
    async (app) => {
      const c = container(base, app);
      for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe]) {
        const res = await fetch(`${urls[app]}${probe.httpGet.path}`);
        expect(res.status, `${app} ${probe.httpGet.path}`).toBe(200);
      }
      expect((await fetch(`${urls[app]}/metrics`)).status).toBe(200);
      if (app === 'persister') expect((await fetch(`${urls[app]}/ops/dead-letters`)).status).toBe(401);
    },
  );
});

describe('deploy/k8s example overlay', () => {
  const k = overlayKustomization;

  it('builds on the base, in its own namespace, with the image the base names', () => {
    expect(k.resources).toContain('../../base');
    expect(k.namespace).toBeDefined();
    for (const o of overlay) if (o.kind !== 'Namespace') expect(o.metadata.namespace).toBe(k.namespace);
    const names = new Set(APPS.map((app) => container(base, app).image as string));
    expect([...names]).toEqual(k.images?.map((i) => i.name));
    for (const app of APPS) expect(container(overlay, app).image).toBe('registry.example.com/fleet:0.1.0');
  });

  it('its Secret has every key the Deployments use, and only placeholder values', () => {
    expect(base.filter((o) => o.kind === 'Secret')).toEqual([]);
    const gen = k.secretGenerator ?? [];
    expect(gen.map((g) => g.name)).toEqual(['fleet-secrets']);
    const used = new Set(
      APPS.flatMap((app) =>
        (container(base, app).env ?? [])
          .map(
            (e: { valueFrom?: { secretKeyRef?: { name: string; key: string } } }) =>
              e.valueFrom?.secretKeyRef,
          )
          .filter(Boolean)
          .map((r: { name: string; key: string }) => {
            expect(r.name).toBe('fleet-secrets');
            return r.key;
          }),
      ),
    );
    expect(Object.keys(secretValues).sort()).toEqual([...used].sort());
    for (const [key, value] of Object.entries(secretValues)) expect(value, key).toContain('CHANGE-ME');
  });

  it('the base keeps its ConfigMap name (hot reload), so the overlay’s pods mount the same file', () => {
    const gen = readKustomization(BASE).configMapGenerator ?? [];
    expect(gen.map((g) => [g.name, g.options?.disableNameSuffixHash])).toEqual([['fleet-config', true]]);
  });
});

describe('deploy/k8s PrometheusRule', () => {
  const rule = find(base, 'PrometheusRule', 'fleet');

  // config/alerts.yml is the rules' one home: the PrometheusRule is generated from it (npm run k8s:alerts).
  // Mutation tried: `for: 10m` of FleetIngestLag changed in config/alerts.yml only: this failed.
  it('carries the groups of config/alerts.yml', () => {
    const groups = parse(readFileSync('config/alerts.yml', 'utf8')).groups;
    expect(() =>
      new PrometheusRule({ metadata: { name: 'fleet' }, spec: { groups } }).validate(),
    ).not.toThrow();
    expect(rule.spec.groups, 'config/alerts.yml changed: run `npm run k8s:alerts`').toEqual(groups);
  });

  const promtool = (() => {
    try {
      execFileSync('promtool', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  // Strict runs (CI) fail instead of skipping when promtool is missing (.ci/run installs it).
  // Mutation tried: the rule's expr cut to `up{...} ==`: this failed.
  it.skipIf(!promtool && !strictRun())('promtool check rules accepts its groups', async () => {
    if (!promtool) throw new Error('promtool is not installed: apt install prometheus');
    const file = join(await testTempDir('k8s-rules'), 'rules.yml');
    writeFileSync(file, JSON.stringify({ groups: rule.spec.groups }));
    execFileSync('promtool', ['check', 'rules', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  });
});
