// OpenTelemetry by the book: the real gateway, persister and worker, configured for traces by the standard
// OTEL_* variables alone (the YAML's tracing section is the test default, exporter none), export their
// spans over OTLP/HTTP to a receiver started here (a node:http server taking POST /v1/traces, OTLP/JSON
// through OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json: otlp-transformer ships no .proto to decode the
// protobuf default with). Then OTEL_SDK_DISABLED=true and OTEL_TRACES_SAMPLER=always_off send nothing,
// and OTEL_SERVICE_NAME and an OTLP endpoint variable win over the YAML's service_name and otlp_endpoint.
//
// Mutations tried (each made the test fail, then was undone):
// - resolveTracing ignoring OTEL_EXPORTER_OTLP_ENDPOINT (YAML exporter none wins): no span arrives, the
//   fleet test times out waiting for the worker's span;
// - resolveTracing ignoring OTEL_SDK_DISABLED: still passes, as it should: the NodeSDK honours the variable
//   too (no provider registered, spans go nowhere); packages/tracing/test/otel-env.test.ts catches that
//   Fleet's own check (the no-op tracer, the lean hot path) is gone;
// - the NodeSDK given serviceInstanceIdDetector back: service.instance.id is a UUID, not the ready line's id.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { FLEET_VERSION } from '@fleet/app';
import { connect } from '@fleet/client';
import { afterAll, describe, expect, it } from 'vitest';
import { writeTestConfig } from '../helpers/config.js';
import { type AppProcess, spawnApp } from '../helpers/processes.js';
import { cleanupRedisPrefix, type FreshDatabase, freshDatabase, uniquePrefix } from '../helpers/services.js';

const HANDLER = `
export default function register(router) {
  router.subscribe('otlp.#', () => ({ ok: true }));
}
`;

/** One span as the receiver got it (OTLP/JSON: ids in hex), with its resource's attributes. */
interface ReceivedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  links: string[];
  resource: Record<string, unknown>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpRequest {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: {
      spans?: {
        name: string;
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        links?: { traceId: string }[];
      }[];
    }[];
  }[];
}

const attrValue = (v: OtlpValue): unknown => v.stringValue ?? v.intValue ?? v.boolValue ?? v.doubleValue;

/** A real OTLP/HTTP traces receiver on a free loopback port. */
interface Receiver {
  /** OTEL_EXPORTER_OTLP_ENDPOINT for it (the exporter appends /v1/traces). */
  endpoint: string;
  spans: ReceivedSpan[];
  /** Requests that were not a POST /v1/traces in OTLP/JSON. */
  rejected: string[];
  close(): Promise<void>;
}

const receivers: Receiver[] = [];

async function startReceiver(): Promise<Receiver> {
  const spans: ReceivedSpan[] = [];
  const rejected: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const type = req.headers['content-type'] ?? '';
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !type.startsWith('application/json')) {
        rejected.push(`${req.method} ${req.url} ${type}`);
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpRequest;
      for (const rs of body.resourceSpans ?? []) {
        const resource = Object.fromEntries(
          (rs.resource?.attributes ?? []).map((a) => [a.key, attrValue(a.value)]),
        );
        for (const ss of rs.scopeSpans ?? [])
          for (const s of ss.spans ?? []) {
            const span: ReceivedSpan = {
              name: s.name,
              traceId: s.traceId,
              spanId: s.spanId,
              links: (s.links ?? []).map((l) => l.traceId),
              resource,
            };
            if (s.parentSpanId) span.parentSpanId = s.parentSpanId;
            spans.push(span);
          }
      }
      // ExportTraceServiceResponse, empty: everything accepted.
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const receiver: Receiver = {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    rejected,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  receivers.push(receiver);
  return receiver;
}

/** The OTEL_* variables that point an app at a receiver (and export batches fast). */
function otelEnv(r: Receiver, extra: Record<string, string> = {}): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: r.endpoint,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '100',
    ...extra,
  };
}

async function waitFor<T>(what: string, fn: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const apps: AppProcess[] = [];
const prefixes: string[] = [];
const dbs: FreshDatabase[] = [];

afterAll(async () => {
  await Promise.all(apps.map((a) => a.stop(5_000)));
  for (const p of prefixes) await cleanupRedisPrefix(p).catch(() => {});
  for (const db of dbs) await db.drop().catch(() => {});
  for (const r of receivers) await r.close();
}, 60_000);

const newTraceparent = () => `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;

describe('OTLP export configured by OTEL_* variables', () => {
  it('spans of gateway, persister and worker reach a real OTLP/HTTP receiver in the trace the client sent', async () => {
    const receiver = await startReceiver();
    const db = await freshDatabase('otlp_export');
    dbs.push(db);
    const prefix = uniquePrefix('otlp-export');
    prefixes.push(prefix);
    // The YAML's tracing section is the test default (exporter none): only the environment turns spans on.
    const written = await writeTestConfig({
      redis: { key_prefix: prefix },
      database: { connection_string: db.url, pool: { max_connections: 4 } },
      handlers: { modules: ['handler.mjs'] },
      monitoring: { enabled: false },
      streams: { block_ms: 50 },
    });
    expect(written.config.tracing?.exporter).toBe('none');
    await writeFile(join(written.dir, 'handler.mjs'), HANDLER);
    const env = otelEnv(receiver, {
      FLEET_DATABASE_URL: db.url,
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=otlp-test',
    });
    const started = (['gateway', 'persister', 'worker'] as const).map((app) => {
      const p = spawnApp(app, { config: written.path, env });
      apps.push(p);
      return p;
    });
    const [gw, ps, wk] = (await Promise.all(started.map((a) => a.waitReady(60_000)))).map(
      (l) => JSON.parse(l) as Record<string, unknown>,
    );

    const given = newTraceparent();
    const traceId = given.slice(3, 35);
    const client = await connect({ host: '127.0.0.1', port: gw!.port as number, clientName: 'otlp-test' });
    try {
      const reply = await client.request('otlp.request', { n: 1 }, { traceparent: given, timeoutMs: 30_000 });
      expect(reply.traceparent).toBe(given);
    } finally {
      await client.close();
    }

    const byService = (name: string) => receiver.spans.filter((s) => s.resource['service.name'] === name);
    // The worker's span is in the client's trace, a child of the client's span; the gateway's and the
    // persister's are batch spans (one per XADD / stream read) that link to it.
    const handle = await waitFor('the worker span in the client trace', () =>
      byService('fleet-worker').find((s) => s.traceId === traceId && s.name === 'handle otlp.request'),
    );
    expect(handle.parentSpanId).toBe(given.slice(36, 52));
    const append = await waitFor('the gateway span linking the client trace', () =>
      byService('fleet-gateway').find((s) => s.name === 'append' && s.links.includes(traceId)),
    );
    const persisterNames = await waitFor('persist and enqueue spans linking the client trace', () => {
      const names = byService('fleet-persister')
        .filter((s) => s.links.includes(traceId))
        .map((s) => s.name);
      return names.includes('persist') && names.includes('enqueue') ? names : undefined;
    });
    expect(persisterNames).toEqual(expect.arrayContaining(['persist', 'enqueue']));
    const persist = byService('fleet-persister').find((s) => s.links.includes(traceId))!;

    // Resource: service.version from the fleet's one version, service.instance.id the app's own id
    // (gateway id, persister consumer, worker id from the ready lines), OTEL_RESOURCE_ATTRIBUTES added.
    for (const [span, id] of [
      [append, gw!.gateway_id],
      [persist, ps!.consumer],
      [handle, wk!.worker_id],
    ] as const) {
      expect(span.resource['service.version']).toBe(FLEET_VERSION);
      expect(span.resource['service.instance.id']).toBe(id);
      expect(span.resource['deployment.environment.name']).toBe('otlp-test');
    }
    expect(receiver.rejected).toEqual([]);
  }, 120_000);

  /** A gateway alone (Redis only): every publish it ACKs made an `append` span, if spans are on. */
  async function gatewayRun(
    receiver: Receiver,
    env: Record<string, string>,
    tracing: Record<string, unknown> = {},
  ): Promise<void> {
    const prefix = uniquePrefix('otlp-gw');
    prefixes.push(prefix);
    const written = await writeTestConfig({
      redis: { key_prefix: prefix },
      monitoring: { enabled: false },
      tracing,
    });
    const gateway = spawnApp('gateway', { config: written.path, env: otelEnv(receiver, env) });
    apps.push(gateway);
    const ready = JSON.parse(await gateway.waitReady(60_000)) as { port: number };
    const client = await connect({ host: '127.0.0.1', port: ready.port, clientName: 'otlp-gw' });
    try {
      await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          client.publish('otlp.gw', { i }, { traceparent: newTraceparent() }),
        ),
      );
    } finally {
      await client.close();
    }
    // A clean stop flushes pending spans (telemetry.shutdown): once the process is gone, all it would
    // ever send has been received.
    expect(await gateway.stop(15_000)).toBe(0);
  }

  it('OTEL_SDK_DISABLED=true or OTEL_TRACES_SAMPLER=always_off: no span is sent', async () => {
    const [control, disabled, alwaysOff] = await Promise.all([
      startReceiver(),
      startReceiver(),
      startReceiver(),
    ]);
    // The control run shows that the same run with spans on does send them.
    await gatewayRun(control, {});
    expect(control.spans.filter((s) => s.name === 'append').length).toBeGreaterThan(0);
    await gatewayRun(disabled, { OTEL_SDK_DISABLED: 'true' });
    await gatewayRun(alwaysOff, { OTEL_TRACES_SAMPLER: 'always_off' });
    expect(disabled.spans).toEqual([]);
    expect(alwaysOff.spans).toEqual([]);
  }, 120_000);

  it('OTEL_SERVICE_NAME and the OTLP endpoint variable win over the YAML tracing section', async () => {
    const receiver = await startReceiver();
    // The YAML exports elsewhere (a port nothing listens on) under another name.
    await gatewayRun(
      receiver,
      { OTEL_SERVICE_NAME: 'renamed-gateway' },
      { exporter: 'otlp', otlp_endpoint: 'http://127.0.0.1:9/v1/traces', service_name: 'yaml-name' },
    );
    const names = new Set(receiver.spans.map((s) => s.resource['service.name']));
    expect(receiver.spans.length).toBeGreaterThan(0);
    expect([...names]).toEqual(['renamed-gateway']);
  }, 120_000);
});
