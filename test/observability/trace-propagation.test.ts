// One trace id from the client to the handler and back, through the real gateway, persister and worker
// (in-process, real Redis and Postgres), with in-memory span exporters: the stream entry, the `messages`
// row, the handler's context, its log lines, the spans of all three apps and the RESPONSE carry it, both
// for a client-given traceparent and for one the gateway generates.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type FleetClient } from '@fleet/client';
import { type FleetConfig, loadConfigFile } from '@fleet/config';
import { type Gateway, startGateway } from '@fleet/gateway';
import { type Persister, startPersister } from '@fleet/persister';
import { decodeEnvelope, FleetKeys, newMessageId } from '@fleet/protocol';
import {
  closeLogger,
  createLogger,
  flushLogger,
  initTelemetry,
  type Logger,
  type Telemetry,
} from '@fleet/tracing';
import { startWorker, type WorkerApp } from '@fleet/worker';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestConfig } from '../helpers/config.js';
import { ingestMessages } from '../helpers/ingest.js';
import { cleanupRedisPrefix, type FreshDatabase, freshDatabase, uniquePrefix } from '../helpers/services.js';

// The handler module (plain JS, loaded by the worker from the config's handlers.modules): it logs through
// its context logger and the module logger, records what its context saw, and replies with its trace id.
const HANDLER = `
export default function register(router, { logger }) {
  router.subscribe('obs.#', (ctx) => {
    ctx.logger.info({ marker: 'obs-ctx', msg_id: ctx.envelope.id }, 'handled');
    logger.info({ marker: 'obs-module', msg_id: ctx.envelope.id }, 'module line');
    (globalThis.__obsSeen ??= []).push({ id: ctx.envelope.id, traceId: ctx.traceId });
    return { traceId: ctx.traceId };
  });
}
`;

interface Seen {
  id: string;
  traceId: string;
}
const seen = (): Seen[] => ((globalThis as { __obsSeen?: Seen[] }).__obsSeen ??= []);

const traceIdOf = (tp: string | undefined | null) => tp?.slice(3, 35);

let cfg: FleetConfig;
let db: FreshDatabase;
let prefix: string;
let logPath: string;
let configDir: string;
let workerLog: Logger;
let gatewayLogPath: string;
let gatewayLog: Logger;
const tel: Record<'gateway' | 'persister' | 'worker', Telemetry> = {} as never;
let gateway: Gateway | undefined;
let persister: Persister | undefined;
let worker: WorkerApp | undefined;
let client: FleetClient | undefined;
let redis: Redis;

beforeAll(async () => {
  db = await freshDatabase('obs_trace');
  prefix = uniquePrefix('obs-trace');
  const written = await writeTestConfig({
    redis: { key_prefix: prefix },
    database: { connection_string: db.url, pool: { max_connections: 4 } },
    handlers: { modules: ['handler.mjs'] },
    monitoring: { enabled: false },
    streams: { block_ms: 50 },
    tracing: { sampling_ratio: 1 },
  });
  configDir = written.dir;
  await writeFile(join(written.dir, 'handler.mjs'), HANDLER);
  // Overrides from the test run's environment (FLEET_DATABASE_URL) must not replace the fresh database.
  cfg = loadConfigFile(written.path, {});
  logPath = join(written.dir, 'worker.log');
  workerLog = createLogger({ name: 'worker', level: 'debug', writers: [{ type: 'file', path: logPath }] });
  gatewayLogPath = join(written.dir, 'gateway.log');
  gatewayLog = createLogger({
    name: 'gateway',
    level: 'debug',
    writers: [{ type: 'file', path: gatewayLogPath }],
  });
  // 'memory' is the test exporter of @fleet/tracing (not a config value): spans are kept per app.
  for (const app of ['gateway', 'persister', 'worker'] as const)
    tel[app] = initTelemetry({
      serviceName: `fleet-${app}`,
      exporter: 'memory',
      samplingRatio: 1,
      enabled: true,
      global: false,
    });
  redis = new Redis(cfg.redis.url);
  gateway = await startGateway(cfg, {
    logger: gatewayLog,
    telemetry: tel.gateway,
  });
  client = await connect({ host: '127.0.0.1', port: gateway.port, clientName: 'obs-trace' });
});

afterAll(async () => {
  await client?.close().catch(() => {});
  await worker?.close();
  await persister?.close();
  await gateway?.close();
  for (const t of Object.values(tel)) await t?.shutdown();
  for (const log of [gatewayLog, workerLog]) if (log) await closeLogger(log);
  redis?.disconnect();
  await cleanupRedisPrefix(prefix).catch(() => {});
  await db?.drop().catch(() => {});
}, 60_000);

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The `messages` rows of these ids once all are COMPLETED: traceparent and the generated trace_id column. */
function completedRows(ids: string[]) {
  return waitFor(`${ids.length} COMPLETED rows`, async () => {
    const res = await persister!.pool.query<{ id: string; traceparent: string; trace_id: string }>(
      "SELECT id, traceparent, trace_id FROM messages WHERE id = ANY($1) AND status = 'COMPLETED'",
      [ids],
    );
    return res.rows.length === ids.length ? res.rows : undefined;
  });
}

function linksTo(spans: ReadableSpan[], traceId: string): ReadableSpan[] {
  return spans.filter((s) => s.links.some((l) => l.context.traceId === traceId));
}

describe('trace propagation, client to handler and back', () => {
  it('carries a given and a gateway-generated trace id through every hop', async () => {
    const given = `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
    const givenTrace = traceIdOf(given)!;
    const ids = {
      givenPub: `obs-gp-${randomBytes(4).toString('hex')}`,
      givenReq: `obs-gr-${randomBytes(4).toString('hex')}`,
      genPub: `obs-np-${randomBytes(4).toString('hex')}`,
      genReq: `obs-nr-${randomBytes(4).toString('hex')}`,
    };
    const c = client!;
    // Only the gateway runs yet: the entries stay in the stream (the persister trims acknowledged ones).
    await c.publish('obs.published', { n: 1 }, { id: ids.givenPub, traceparent: given });
    await c.publish('obs.published', { n: 2 }, { id: ids.genPub });
    const givenReply = c.request(
      'obs.request',
      { n: 3 },
      { id: ids.givenReq, traceparent: given, timeoutMs: 30_000 },
    );
    const genReply = c.request('obs.request', { n: 4 }, { id: ids.genReq, timeoutMs: 30_000 });

    // 1. Stream entries: the client's traceparent inside the envelope, the gateway's in field `t`.
    const keys = new FleetKeys(cfg.redis.key_prefix, cfg.streams.shards);
    const entryTrace = await waitFor('4 stream entries', async () => {
      const out = new Map<string, string>();
      for (const stream of keys.ingestStreams()) {
        for (const r of await ingestMessages(redis, stream)) {
          const env = decodeEnvelope(r.envelope);
          const tp = env.traceparent ?? r.traceparent;
          if (tp) out.set(env.id, tp);
          if (env.traceparent) expect(r.traceparent).toBeUndefined();
        }
      }
      return out.size >= 4 ? out : undefined;
    });
    expect(entryTrace.get(ids.givenPub)).toBe(given);
    expect(entryTrace.get(ids.givenReq)).toBe(given);
    const genPubTp = entryTrace.get(ids.genPub)!;
    const genReqTp = entryTrace.get(ids.genReq)!;
    expect(genPubTp).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/); // sampling_ratio 1: sampled
    const expected: Record<string, string> = {
      [ids.givenPub]: givenTrace,
      [ids.givenReq]: givenTrace,
      [ids.genPub]: traceIdOf(genPubTp)!,
      [ids.genReq]: traceIdOf(genReqTp)!,
    };
    expect(new Set(Object.values(expected)).size).toBe(3);

    persister = await startPersister(cfg, {
      logger: createLogger({ name: 'persister', level: 'warn' }),
      ops: false,
      tracer: tel.persister.tracer,
    });
    worker = await startWorker(cfg, {
      logger: workerLog,
      handlersBaseDir: configDir,
      tracer: tel.worker.tracer,
    });

    // 2. RESPONSE frames carry the request's traceparent; the handler replied with ctx.traceId.
    const [r1, r2] = await Promise.all([givenReply, genReply]);
    expect(r1.traceparent).toBe(given);
    expect(r2.traceparent).toBe(genReqTp);
    expect(r1.json<{ traceId: string }>().traceId).toBe(givenTrace);
    expect(r2.json<{ traceId: string }>().traceId).toBe(expected[ids.genReq]);

    // 3. `messages` rows: traceparent and the generated trace_id column.
    const rows = await completedRows(Object.keys(expected));
    for (const row of rows) {
      expect(row.trace_id).toBe(expected[row.id]);
      expect(row.traceparent).toBe(entryTrace.get(row.id));
    }

    // 4. The handler's context.
    for (const [id, traceId] of Object.entries(expected))
      expect(seen().find((s) => s.id === id)?.traceId).toBe(traceId);

    // 5. Log lines written inside the handler (context logger and module logger) carry trace_id.
    await flushLogger(workerLog);
    const lines = (await readFile(logPath, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { marker?: string; msg_id?: string; trace_id?: string });
    for (const [id, traceId] of Object.entries(expected)) {
      const mine = lines.filter((l) => l.msg_id === id && l.marker?.startsWith('obs-'));
      expect(mine.map((l) => l.marker).sort()).toEqual(['obs-ctx', 'obs-module']);
      for (const l of mine) expect(l.trace_id).toBe(traceId);
    }

    // The MessageLogger's debug lines: `message received` (gateway) and `message processed` (worker).
    await flushLogger(gatewayLog);
    const gatewayLines = (await readFile(gatewayLogPath, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { msg?: string; msg_id?: string; trace_id?: string });
    for (const [id, traceId] of Object.entries(expected)) {
      const received = gatewayLines.find((l) => l.msg === 'message received' && l.msg_id === id);
      expect(received?.trace_id).toBe(traceId);
      const processed = lines.find(
        (l) => (l as { msg?: string }).msg === 'message processed' && l.msg_id === id,
      );
      expect(processed?.trace_id).toBe(traceId);
    }

    // 6. Spans: the worker's `handle <topic>` span is in the message's trace (child of its traceparent);
    // the gateway's `append` and the persister's `persist` / `enqueue` batch spans link to it.
    const spans = {
      gateway: tel.gateway.memoryExporter!.getFinishedSpans(),
      persister: tel.persister.memoryExporter!.getFinishedSpans(),
      worker: tel.worker.memoryExporter!.getFinishedSpans(),
    };
    for (const [id, traceId] of Object.entries(expected)) {
      const tp = entryTrace.get(id)!;
      const handle = spans.worker.find(
        (s) => s.spanContext().traceId === traceId && s.attributes['messaging.message.id'] === id,
      );
      expect(handle?.name).toMatch(/^handle obs\./);
      expect(handle?.parentSpanContext?.spanId).toBe(tp.slice(36, 52));
      expect(linksTo(spans.gateway, traceId).map((s) => s.name)).toContain('append');
      const persisterNames = linksTo(spans.persister, traceId).map((s) => s.name);
      expect(persisterNames).toContain('persist');
      expect(persisterNames).toContain('enqueue');
    }
    for (const s of [...spans.gateway, ...spans.persister])
      expect(s.attributes['fleet.batch.size']).toBeGreaterThan(0);
  });

  // The default (spans off at the gateway): a message without a traceparent whose id is a UUID is traced
  // under its id. Its stream entry carries a 2-byte mark (apps/gateway/test/publish.test.ts); every hop
  // after it shows the trace id = the id's 32 hex digits and the parent span = its last 16.
  it('traces a message without a traceparent under its UUID id when the gateway records no spans', async () => {
    const quiet = initTelemetry({
      serviceName: 'fleet-gateway',
      exporter: 'none',
      enabled: true,
      samplingRatio: 1,
      global: false,
    });
    const gw2 = await startGateway(cfg, { logger: gatewayLog, telemetry: quiet });
    const c2 = await connect({ host: '127.0.0.1', port: gw2.port, clientName: 'obs-trace-derived' });
    try {
      const ids = { pub: newMessageId(), req: newMessageId() };
      const derived = (id: string) => {
        const hex = id.replaceAll('-', '');
        return `00-${hex}-${hex.slice(16)}-01`;
      };
      await c2.publish('obs.published', { n: 5 }, { id: ids.pub });
      const reply = await c2.request('obs.request', { n: 6 }, { id: ids.req, timeoutMs: 30_000 });
      expect(reply.traceparent).toBe(derived(ids.req));
      expect(reply.json<{ traceId: string }>().traceId).toBe(ids.req.replaceAll('-', ''));

      const rows = await completedRows(Object.values(ids));
      for (const row of rows) {
        expect(row.traceparent).toBe(derived(row.id));
        expect(row.trace_id).toBe(row.id.replaceAll('-', ''));
      }
      for (const id of Object.values(ids))
        expect(seen().find((x) => x.id === id)?.traceId).toBe(id.replaceAll('-', ''));

      await flushLogger(workerLog);
      await flushLogger(gatewayLog);
      const workerLines = (await readFile(logPath, 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      const gatewayLines = (await readFile(gatewayLogPath, 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      const spans = {
        persister: tel.persister.memoryExporter!.getFinishedSpans(),
        worker: tel.worker.memoryExporter!.getFinishedSpans(),
      };
      for (const id of Object.values(ids)) {
        const traceId = id.replaceAll('-', '');
        const mine = workerLines.filter(
          (l: { msg_id?: string; marker?: string }) => l.msg_id === id && l.marker,
        );
        expect(mine.length).toBe(2);
        for (const l of mine) expect(l.trace_id).toBe(traceId);
        const received = gatewayLines.find(
          (l: { msg?: string; msg_id?: string }) => l.msg === 'message received' && l.msg_id === id,
        );
        expect(received?.trace_id).toBe(traceId);
        const handle = spans.worker.find((x) => x.attributes['messaging.message.id'] === id);
        expect(handle?.spanContext().traceId).toBe(traceId);
        expect(handle?.parentSpanContext?.spanId).toBe(traceId.slice(16));
        expect(linksTo(spans.persister, traceId).map((x) => x.name)).toContain('persist');
      }
    } finally {
      await c2.close().catch(() => {});
      await gw2.close();
      await quiet.shutdown();
    }
  });
});
