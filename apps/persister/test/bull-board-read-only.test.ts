// ops.bull_board.read_only (default true): with the ops credentials, every job and queue action of Bull
// Board's API (listed from Bull Board's own route table, so an action added by an upgrade is covered) is
// refused and changes nothing; the board still reads. With read_only: false the actions work (see
// ops-auth.test.ts, which pauses and resumes through the board).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpsServer } from '../src/ops-server.js';
import { type Persister, startPersister } from '../src/persister.js';
import { BOARD, boardActions } from './board-routes.js';
import { count, type Harness, harness, memoryLogger, publish, waitUntil } from './harness.js';

const AUTH = { authorization: `Basic ${Buffer.from('ops:s3cret').toString('base64')}` };

describe('Bull Board read-only by config', () => {
  let h: Harness;
  let p: Persister;
  let base: string;
  let jobId: string;

  beforeAll(async () => {
    // No bull_board section: the default must be the read-only one.
    h = await harness('bbro', { ops: { basic_auth: { username: 'ops', password: 's3cret' } } });
    p = await startPersister(h.cfg, { logger: memoryLogger(), opsPort: 0, consumerName: 'bbro-a' });
    base = p.opsUrl as string;
    await publish(h, ['r-1', 'r-2']);
    await waitUntil(async () => (await count(h, 'SELECT count(*) AS n FROM messages')) === 2, 20_000, 'rows');
    await waitUntil(async () => (await p.bull.getJobs(['waiting'])).length > 0, 20_000, 'a waiting job');
    jobId = (await p.bull.getJobs(['waiting']))[0]!.id!;
  });
  afterAll(async () => {
    await p?.close();
    await h?.close();
  });

  it('defaults to read-only', () => {
    expect(h.cfg.ops.bull_board.read_only).toBe(true);
  });

  // Mutation tried: readOnlyMode not passed to the adapters -> the pause below answered 200 and paused the
  // queue, and the add-job route added a job: this test failed.
  it('refuses every job and queue action with the credentials, and nothing changes', async () => {
    const actions = boardActions(h.cfg.queue.name, jobId);
    expect(actions.length).toBeGreaterThan(5);
    const jobsBefore = (await p.bull.getJobs(['waiting'])).map((j) => j.id!).sort();
    const answered: string[] = [];
    for (const { method, path } of actions) {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { ...AUTH, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'x', data: {}, options: {} }),
      });
      if (res.status < 400) answered.push(`${method} ${path} ${res.status}`);
    }
    // pause-all / resume-all answer 200 but skip read-only queues (checked by the state below).
    expect(answered.filter((a) => !/\/queues\/(pause|resume)\b/.test(a.split(' ')[1]!))).toEqual([]);
    expect(await p.bull.isPaused()).toBe(false);
    expect((await p.bull.getJobs(['waiting'])).map((j) => j.id!).sort()).toEqual(jobsBefore);
    expect(await p.bull.count()).toBe(jobsBefore.length);
  });

  it('still reads: the queues, their counts and the read-only flag', async () => {
    const res = await fetch(`${base}${BOARD}/api/queues`, { headers: AUTH });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { queues: { name: string; readOnlyMode: boolean }[] };
    const q = body.queues.find((x) => x.name === h.cfg.queue.name);
    expect(q?.readOnlyMode).toBe(true);
  });

  it('read_only: false gives the actions back', async () => {
    const cfg = { ...h.cfg, ops: { ...h.cfg.ops, bull_board: { read_only: false } } };
    const ops = await startOpsServer({
      config: cfg,
      queue: p.store,
      dispatcher: p.dispatcher,
      bullQueues: [p.bull],
      registry: p.metrics.registry,
      readiness: async () => [],
      port: 0,
    });
    try {
      const pause = await fetch(`${ops.url}${BOARD}/api/queues/${h.cfg.queue.name}/pause`, {
        method: 'PUT',
        headers: AUTH,
      });
      expect(pause.status).toBe(200);
      expect(await p.bull.isPaused()).toBe(true);
      await fetch(`${ops.url}${BOARD}/api/queues/${h.cfg.queue.name}/resume`, {
        method: 'PUT',
        headers: AUTH,
      });
      expect(await p.bull.isPaused()).toBe(false);
    } finally {
      await ops.app.close();
    }
  });
});
