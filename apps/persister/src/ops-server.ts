import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FleetConfig } from '@fleet/config';
import {
  type Dispatcher,
  deadLetterView,
  listDeadLetters,
  purgeDeadLetters,
  replayDeadLetters,
} from '@fleet/dispatch';
import { basicAuthChallenge, basicAuthMatches, type Registry } from '@fleet/metrics';
import type { Queue } from 'bullmq';
import Fastify, { type FastifyInstance } from 'fastify';
import type { QueueApi } from './queue-api.js';

export interface OpsServerDeps {
  config: FleetConfig;
  queue: QueueApi;
  dispatcher: Dispatcher;
  /** Every shard's queue, by shard (Bull Board lists each; several are named `s<n>-<queue>`). */
  bullQueues: readonly Queue[];
  registry: Registry;
  /** Redis PING + Postgres SELECT 1 + migrations applied; resolves to the failing parts (empty = ready). */
  readiness: () => Promise<string[]>;
  /** Port override (tests use 0). */
  port?: number;
}

const REALM = 'fleet-ops';
/** Probes cannot send credentials; these answer up/ready and the failing parts' names, nothing more. */
const PROBE_ROUTES = ['/healthz', '/readyz'];
const METRICS_ROUTE = '/metrics';

function idsFrom(body: unknown, query: unknown): string[] | 'all' | null {
  const src = { ...((query as object) ?? {}), ...((body as object) ?? {}) } as {
    id?: unknown;
    ids?: unknown;
    all?: unknown;
  };
  if (src.all === true || src.all === 'true' || src.all === '1') return 'all';
  const ids = src.ids ?? src.id;
  if (typeof ids === 'string' && ids.length > 0) return ids.split(',');
  if (Array.isArray(ids) && ids.length > 0 && ids.every((i) => typeof i === 'string')) return ids as string[];
  return null;
}

/**
 * The persister's ops HTTP server: /healthz (process up), /readyz, /metrics, Bull Board at /ops/queues
 * and the dead-letter endpoints; it binds to ops.host (127.0.0.1 unless configured). With ops.basic_auth,
 * every request of every method needs the credentials except the probes (and /metrics with
 * ops.public_metrics). The check runs on the matched route pattern, before routing to any handler, so
 * Bull Board's API (POST/PUT/PATCH), dead-letter replay (POST) and purge (DELETE) and unknown paths
 * are all covered whatever the URL's spelling.
 */
export async function startOpsServer(d: OpsServerDeps): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify({ logger: false });
  const auth = d.config.ops.basic_auth;
  if (auth) {
    const open = new Set(d.config.ops.public_metrics ? [...PROBE_ROUTES, METRICS_ROUTE] : PROBE_ROUTES);
    app.addHook('onRequest', (req, reply, done) => {
      // routeOptions.url is the route's pattern (undefined when no route matched: a 404 needs auth too).
      const route = req.routeOptions.url;
      if ((route !== undefined && open.has(route)) || basicAuthMatches(req.headers.authorization, auth))
        return done();
      reply.code(401).header('www-authenticate', basicAuthChallenge(REALM)).send({ error: 'unauthorized' });
    });
  }

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const failing = await d.readiness();
    if (failing.length > 0) return reply.code(503).send({ status: 'not ready', failing });
    return { status: 'ready' };
  });
  app.get(METRICS_ROUTE, async (_req, reply) => {
    reply.header('content-type', d.registry.contentType);
    return d.registry.metrics();
  });

  app.get('/ops/dead-letters', async (req) => {
    const q = req.query as { limit?: string; topic?: string };
    const limit = Math.min(Math.max(Number(q.limit ?? 100) || 100, 1), 10_000);
    const rows = await listDeadLetters(d.queue, { limit, ...(q.topic ? { topic: q.topic } : {}) });
    return { deadLetters: rows.map(deadLetterView) };
  });
  app.post('/ops/dead-letters/replay', async (req, reply) => {
    const ids = idsFrom(req.body, req.query);
    if (!ids) return reply.code(400).send({ error: 'give ids (array or comma list) or all=true' });
    return { replayed: await replayDeadLetters(d.queue, d.dispatcher, ids) };
  });
  app.delete('/ops/dead-letters', async (req, reply) => {
    const ids = idsFrom(req.body, req.query);
    if (!ids) return reply.code(400).send({ error: 'give ids (array or comma list) or all=true' });
    return { purged: await purgeDeadLetters(d.queue, ids) };
  });

  const board = new FastifyAdapter();
  // The shards' queues share one name (their BullMQ prefixes differ): Bull Board keys queues by name, so
  // with several each gets the shard as a name prefix (one queue keeps its plain name).
  const adapters = d.bullQueues.map((q, n) =>
    d.bullQueues.length === 1
      ? new BullMQAdapter(q)
      : new BullMQAdapter(q, { prefix: `s${n}-`, displayName: `${q.name} (shard ${n})` }),
  );
  createBullBoard({ queues: adapters, serverAdapter: board });
  board.setBasePath('/ops/queues');
  await app.register(board.registerPlugin(), { prefix: '/ops/queues' });

  const address = await app.listen({ host: d.config.ops.host, port: d.port ?? d.config.ops.port });
  return { app, url: address };
}
