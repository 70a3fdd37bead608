import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forceStatus } from '../../../packages/store/test/fixtures.js';
import { type Persister, startPersister } from '../src/persister.js';
import { count, type Harness, harness, memoryLogger, publish, waitUntil } from './harness.js';

const AUTH = `Basic ${Buffer.from('ops:s3cret').toString('base64')}`;

describe('persister ops HTTP server', () => {
  let h: Harness;
  let p: Persister;
  let base: string;

  beforeAll(async () => {
    h = await harness('ops', { ops: { basic_auth: { username: 'ops', password: 's3cret' } } });
    p = await startPersister(h.cfg, { logger: memoryLogger(), opsPort: 0, consumerName: 'ops-a' });
    base = p.opsUrl as string;
  });
  afterAll(async () => {
    await p?.close();
    await h?.close();
  });

  it('binds to 127.0.0.1 by default', () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('/healthz and /readyz are open (probes send no credentials); every page needs basic auth', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    for (const path of ['/metrics', '/ops/queues', '/ops/dead-letters']) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(401);
      expect(
        (
          await fetch(`${base}${path}`, {
            headers: { authorization: `Basic ${Buffer.from('ops:wrong').toString('base64')}` },
          })
        ).status,
      ).toBe(401);
    }
  });

  it('/readyz checks Redis, Postgres and migrations', async () => {
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready' });
  });

  it('/metrics serves the persister metrics', async () => {
    await publish(h, ['m-1', 'm-2']);
    const metrics = async () => (await fetch(`${base}/metrics`, { headers: { authorization: AUTH } })).text();
    // Counters move once the batch is acknowledged, just after the rows are visible.
    await waitUntil(
      async () =>
        /fleet_persister_messages_persisted_total\{[^}]*topic="orders"[^}]*\} 2/.test(await metrics()),
      10_000,
      'metric',
    );
    const text = await metrics();
    expect(text).toContain('fleet_persister_persist_batch_seconds');
  });

  it('Bull Board lists the fleet queue', async () => {
    const page = await fetch(`${base}/ops/queues`, { headers: { authorization: AUTH } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html');
    const api = await fetch(`${base}/ops/queues/api/queues`, { headers: { authorization: AUTH } });
    expect(api.status).toBe(200);
    const body = (await api.json()) as { queues: { name: string }[] };
    expect(body.queues.map((q) => q.name)).toContain(h.cfg.queue.name);
  });

  it('lists, replays and purges dead letters', async () => {
    await forceStatus(h.pool, ['m-1', 'm-2'], 'DEAD', { lastError: 'boom' });
    const list = await fetch(`${base}/ops/dead-letters`, { headers: { authorization: AUTH } });
    const { deadLetters } = (await list.json()) as { deadLetters: { id: string; lastError: string }[] };
    expect(deadLetters.map((d) => d.id).sort()).toEqual(['m-1', 'm-2']);
    const replay = await fetch(`${base}/ops/dead-letters/replay`, {
      method: 'POST',
      headers: { authorization: AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ ids: ['m-1'] }),
    });
    expect(await replay.json()).toEqual({ replayed: ['m-1'] });
    expect((await h.pool.query("SELECT status FROM messages WHERE id = 'm-1'")).rows[0].status).toBe(
      'PENDING',
    );
    const jobs = await p.bull.getJobs(['waiting']);
    expect(jobs.some((j) => j.id?.startsWith('d-') && j.data.messages[0].id === 'm-1')).toBe(true);
    const purge = await fetch(`${base}/ops/dead-letters?all=true`, {
      method: 'DELETE',
      headers: { authorization: AUTH },
    });
    expect(await purge.json()).toEqual({ purged: 1 });
    expect(await count(h, 'SELECT count(*) AS n FROM messages')).toBe(1);
    const bad = await fetch(`${base}/ops/dead-letters`, {
      method: 'DELETE',
      headers: { authorization: AUTH },
    });
    expect(bad.status).toBe(400);
  });
});
