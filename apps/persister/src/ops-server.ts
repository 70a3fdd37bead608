import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FleetConfig } from '@fleet/config';
import {
  countDeadLetters,
  type Dispatcher,
  deadLetterView,
  listDeadLetters,
  purgeDeadLetters,
  replayDeadLetters,
} from '@fleet/dispatch';
import { basicAuthChallenge, basicAuthMatches, type Registry } from '@fleet/metrics';
import type { Queue } from 'bullmq';
import Fastify, { type FastifyInstance } from 'fastify';
import { deadLettersPage, opsIndexPage } from './ops-pages.js';
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
const HTML = 'text/html; charset=utf-8';

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
 * (read-only unless ops.bull_board.read_only is false), the dead-letter endpoints and two read-only HTML
 * pages, /ops (the index) and /ops/dead-letters.html; it binds to ops.host (127.0.0.1 unless configured). With ops.basic_auth,
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

  /** A page of dead letters (limit 1..10000, default 100; optional topic) and their total. */
  const deadLetters = async (query: unknown) => {
    const q = query as { limit?: string; topic?: string };
    const limit = Math.min(Math.max(Number(q.limit ?? 100) || 100, 1), 10_000);
    const topic = typeof q.topic === 'string' && q.topic !== '' ? { topic: q.topic } : {};
    const [rows, total] = await Promise.all([
      listDeadLetters(d.queue, { limit, ...topic }),
      countDeadLetters(d.queue, topic),
    ]);
    return { rows, total, limit, ...topic };
  };
  app.get('/ops/dead-letters', async (req) => {
    const { rows, total } = await deadLetters(req.query);
    // total: {n, exact}; exact false means "at least n" (a bounded count: countDeadLetters).
    return { deadLetters: rows.map(deadLetterView), total };
  });
  // Read-only HTML views for people (the JSON above is for scripts).
  app.get('/ops', async (_req, reply) => reply.type(HTML).send(opsIndexPage()));
  app.get('/ops/dead-letters.html', async (req, reply) =>
    reply.type(HTML).send(deadLettersPage(await deadLetters(req.query))),
  );
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
  // ops.bull_board.read_only: Bull Board's API answers 405 to every job and queue action (checked on the
  // server, not only hidden in the UI).
  const readOnlyMode = d.config.ops.bull_board.read_only;
  const adapters = d.bullQueues.map((q, n) =>
    d.bullQueues.length === 1
      ? new BullMQAdapter(q, { readOnlyMode })
      : new BullMQAdapter(q, { readOnlyMode, prefix: `s${n}-`, displayName: `${q.name} (shard ${n})` }),
  );
  createBullBoard({
    queues: adapters,
    serverAdapter: board,
    // The dead letters live in Postgres, not in a queue: a link from the board's header to their page.
    options: { uiConfig: { miscLinks: [{ text: 'Dead letters', url: '/ops/dead-letters.html' }] } },
  });
  board.setBasePath('/ops/queues');
  await app.register(board.registerPlugin(), { prefix: '/ops/queues' });

  const address = await app.listen({ host: d.config.ops.host, port: d.port ?? d.config.ops.port });
  return { app, url: address };
}
