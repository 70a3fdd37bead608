// ops.basic_auth on the persister's ops server, per method: every mutating route (dead-letter replay and
// purge, every POST/PUT/PATCH of Bull Board's API, listed from Bull Board's own route table so a route
// added by an upgrade is covered too) answers 401 without or with wrong credentials and changes nothing;
// the probes stay open; ops.public_metrics opens /metrics and nothing else.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forceStatus } from '../../../packages/store/test/fixtures.js';
import { startOpsServer } from '../src/ops-server.js';
import { type Persister, startPersister } from '../src/persister.js';
import { BOARD, boardActions } from './board-routes.js';
import { count, type Harness, harness, memoryLogger, publish, waitUntil } from './harness.js';

const CREDS = { username: 'ops', password: 's3cret' };
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const GOOD = basic(CREDS.username, CREDS.password);
const REFUSED = [undefined, basic(CREDS.username, 'wrong'), basic('wrong', CREDS.password), 'Bearer s3cret'];

describe('persister ops server: basic auth on every method', () => {
  let h: Harness;
  let p: Persister;
  let base: string;
  let jobId: string;

  beforeAll(async () => {
    // Bull Board writable (read_only false) so the 401s below are the guard's, not read-only mode's.
    h = await harness('opsauth', { ops: { basic_auth: CREDS, bull_board: { read_only: false } } });
    p = await startPersister(h.cfg, { logger: memoryLogger(), opsPort: 0, consumerName: 'opsauth-a' });
    base = p.opsUrl as string;
    await publish(h, ['d-1', 'd-2', 'live-1']);
    await waitUntil(async () => (await count(h, 'SELECT count(*) AS n FROM messages')) === 3, 20_000, 'rows');
    await waitUntil(async () => (await p.bull.getJobs(['waiting'])).length > 0, 20_000, 'a waiting job');
    await forceStatus(h.pool, ['d-1', 'd-2'], 'DEAD', { lastError: 'boom' });
    jobId = (await p.bull.getJobs(['waiting']))[0]!.id!;
  });
  afterAll(async () => {
    await p?.close();
    await h?.close();
  });

  /** Every non-GET route of the server: ours and Bull Board's, with real names for their parameters. */
  function mutatingRoutes(): { method: string; path: string; body?: string }[] {
    // A route may list several methods and several paths: every pair that is not a GET.
    const board = boardActions(h.cfg.queue.name, jobId).map((a) => ({ ...a, body: '{}' }));
    return [
      { method: 'POST', path: '/ops/dead-letters/replay', body: JSON.stringify({ all: true }) },
      { method: 'DELETE', path: '/ops/dead-letters?all=true' },
      ...board,
    ];
  }

  // Mutation tried: the onRequest hook let every non-GET request through
  // (`if (req.method !== 'GET') return done();`): this test failed for every route listed.
  it('every mutating route answers 401 without or with wrong credentials and changes nothing', async () => {
    const routes = mutatingRoutes();
    expect(new Set(routes.map((r) => r.method))).toEqual(new Set(['POST', 'PUT', 'PATCH', 'DELETE']));
    const jobsBefore = (await p.bull.getJobs(['waiting'])).map((j) => j.id!);
    for (const { method, path, body } of routes) {
      for (const authorization of REFUSED) {
        const res = await fetch(`${base}${path}`, {
          method,
          headers: {
            ...(authorization ? { authorization } : {}),
            ...(body ? { 'content-type': 'application/json' } : {}),
          },
          ...(body ? { body } : {}),
        });
        expect(res.status, `${method} ${path} with ${authorization ?? 'no credentials'}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="fleet-ops"/);
      }
    }
    // Nothing moved: the dead letters are still dead, no row was purged, the queue is as it was.
    expect(await count(h, "SELECT count(*) AS n FROM messages WHERE status = 'DEAD'")).toBe(2);
    expect(await count(h, 'SELECT count(*) AS n FROM messages')).toBe(3);
    expect(await p.bull.isPaused()).toBe(false);
    for (const id of jobsBefore) expect(await p.bull.getJob(id), `job ${id}`).toBeDefined();
  });

  it('reads of Bull Board and dead letters need credentials too (job data and payloads)', async () => {
    for (const path of [
      `${BOARD}/api/queues`,
      `${BOARD}/api/queues/${h.cfg.queue.name}/${jobId}`,
      '/ops/dead-letters',
    ])
      expect((await fetch(`${base}${path}`)).status, path).toBe(401);
    // Unknown paths and URL spellings that match no route are refused, not routed around the check.
    for (const path of ['/nope', '/healthz/../ops/dead-letters', '/ops//dead-letters', '/OPS/dead-letters'])
      expect((await fetch(`${base}${path}`, { method: 'DELETE' })).status, path).toBe(401);
  });

  it('with the credentials the same routes act (the 401s above were the guard, not missing routes)', async () => {
    const pause = await fetch(`${base}${BOARD}/api/queues/${h.cfg.queue.name}/pause`, {
      method: 'PUT',
      headers: { authorization: GOOD },
    });
    expect(pause.status).toBe(200);
    expect(await p.bull.isPaused()).toBe(true);
    await fetch(`${base}${BOARD}/api/queues/${h.cfg.queue.name}/resume`, {
      method: 'PUT',
      headers: { authorization: GOOD },
    });
    expect(await p.bull.isPaused()).toBe(false);
    const replay = await fetch(`${base}/ops/dead-letters/replay`, {
      method: 'POST',
      headers: { authorization: GOOD, 'content-type': 'application/json' },
      body: JSON.stringify({ ids: ['d-1'] }),
    });
    expect(await replay.json()).toEqual({ replayed: ['d-1'] });
  });

  // Mutation tried: PROBE_ROUTES emptied (probes behind auth): this test failed with 401s.
  it('/healthz and /readyz answer probes without credentials and say only up/ready', async () => {
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
  });

  // Mutation tried: the public set built from `[...PROBE_ROUTES, METRICS_ROUTE]` whatever
  // public_metrics says: the first request below got 200.
  it('ops.public_metrics opens /metrics only; Bull Board and dead letters keep needing credentials', async () => {
    const cfgOf = (public_metrics: boolean) => ({ ...h.cfg, ops: { ...h.cfg.ops, public_metrics } });
    const deps = {
      queue: p.store,
      dispatcher: p.dispatcher,
      bullQueues: [p.bull],
      registry: p.metrics.registry,
      readiness: async () => [],
      port: 0,
    };
    const closed = await startOpsServer({ ...deps, config: cfgOf(false) });
    const open = await startOpsServer({ ...deps, config: cfgOf(true) });
    try {
      expect((await fetch(`${closed.url}/metrics`)).status).toBe(401);
      const metrics = await fetch(`${open.url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('fleet_persister_messages_persisted_total');
      for (const path of [`${BOARD}/api/queues`, '/ops/dead-letters'])
        expect((await fetch(`${open.url}${path}`)).status, path).toBe(401);
      expect((await fetch(`${open.url}/ops/dead-letters?all=true`, { method: 'DELETE' })).status).toBe(401);
      expect((await fetch(`${open.url}/metrics`, { method: 'POST' })).status).toBe(401);
    } finally {
      await Promise.all([closed.app.close(), open.app.close()]);
    }
  });
});
