import { hostname } from 'node:os';
import { PERSISTER_GROUP } from '@fleet/protocol';
import type { Queue, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestConfig } from '../../../test/helpers/config.js';
import { type AppProcess, spawnApp } from '../../../test/helpers/processes.js';
import { bullQueue, count, fakeWorker, type Harness, harness, waitUntil } from './harness.js';

const N = 20_000;
/** The bounds, from the restarted persister being ready. */
const FULL_FLOW_BOUND_MS = 5_000;
const PRE_CRASH_BOUND_MS = 10_000;

/** Pre-fills the stream in pipelined chunks. */
async function fill(h: Harness, n: number): Promise<string> {
  const { envelope } = await import('./harness.js');
  const stream = h.keys.ingestStream(0);
  let last = '';
  for (let start = 0; start < n; start += 2_000) {
    const pipe = h.redis.pipeline();
    for (let i = start; i < Math.min(n, start + 2_000); i++)
      pipe.xadd(stream, '*', 'e', envelope(`k-${i}`), 'i', `k-${i}`);
    const res = await pipe.exec();
    last = String(res?.at(-1)?.[1]);
  }
  return last;
}

describe('kill -9 of a persister mid-batch, then restart', () => {
  let h: Harness;
  let q: Queue;
  let w: Worker | undefined;
  const apps: AppProcess[] = [];

  beforeAll(async () => {
    h = await harness('kill');
  });
  afterAll(async () => {
    for (const a of apps) await a.stop(2_000);
    await w?.close();
    await q?.close();
    await h?.close();
  });

  it('every stream message is in messages exactly once, offsets consistent, no doubled jobs, recovered in seconds', async () => {
    const lastId = await fill(h, N);
    // Default claim_idle_ms (30 s) and sweep_age_ms (120 s): recovery must come from liveness, not from them.
    const { path } = await writeTestConfig({
      redis: { key_prefix: h.cfg.redis.key_prefix },
      database: { connection_string: h.dbUrl, pool: { max_connections: 4, min_connections: 0 } },
      streams: { read_count: 300, block_ms: 50 },
      queue: { batch_size: 40 },
      logging: { level: 'info', async: false },
    });
    // A worker runs throughout; no message may reach it twice.
    q = bullQueue(h);
    const seen: string[] = [];
    w = fakeWorker(h, () => 'COMPLETED', seen);
    const first = spawnApp('persister', { config: path });
    apps.push(first);
    await first.waitReady(30_000);
    await waitUntil(
      async () => (await count(h, 'SELECT count(*) AS n FROM messages')) > 3_000,
      30_000,
      'first rows',
    );
    const firstName = `${hostname()}-${first.pid}`;
    first.kill('SIGKILL');
    expect(await first.exited).toBeNull();
    // Its last statement may still be finishing in Postgres: the pre-crash rows are known once its
    // backends are gone.
    await waitUntil(
      async () =>
        (await count(
          h,
          "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'fleet-persister'",
        )) === 0,
      30_000,
      'the killed persister backends gone',
    );
    const atKill = await count(h, 'SELECT count(*) AS n FROM messages');
    expect(atKill).toBeLessThan(N);
    const maxSeq = await count(h, 'SELECT coalesce(max(seq), 0) AS n FROM messages');

    const second = spawnApp('persister', { config: path });
    apps.push(second);
    await second.waitReady(30_000);
    const ready = Date.now();
    await waitUntil(
      async () =>
        (await count(h, "SELECT count(*) AS n FROM messages WHERE seq > $1 AND status = 'COMPLETED'", [
          maxSeq,
        ])) > 0,
      60_000,
      'new rows COMPLETED',
    );
    const fullFlowMs = Date.now() - ready;
    await waitUntil(
      async () => (await count(h, 'SELECT count(*) AS n FROM messages_open WHERE seq <= $1', [maxSeq])) === 0,
      60_000,
      'every pre-crash row COMPLETED',
    );
    const preCrashMs = Date.now() - ready;
    await waitUntil(
      async () =>
        (
          (await h.redis.xpending(
            h.keys.ingestStream(0),
            PERSISTER_GROUP,
            '-',
            '+',
            1_000,
            firstName,
          )) as unknown[]
        ).length === 0,
      60_000,
      "the killed persister's entries taken over and acknowledged",
    );
    const takenOverMs = Date.now() - ready;
    console.log(
      `[kill-restart] after the restarted persister was ready: full flow ${fullFlowMs} ms, last pre-crash row COMPLETED ${preCrashMs} ms, dead consumer's entries acknowledged ${takenOverMs} ms`,
    );
    // Mutation tried: claimRule treating a dead registered consumer like an unknown one (claim_idle_ms,
    // 30 s): its entries (durable ACKs waiting on them) were acknowledged, and the rows it had committed
    // without enqueueing COMPLETED, only ~26 s after ready; the pre-crash bound failed. (Rows it had committed without enqueueing: dead-persister-rows.test.ts.)
    expect(fullFlowMs).toBeLessThan(FULL_FLOW_BOUND_MS);
    expect(preCrashMs).toBeLessThan(PRE_CRASH_BOUND_MS);
    expect(takenOverMs).toBeLessThan(PRE_CRASH_BOUND_MS);
    await waitUntil(
      async () => (await count(h, 'SELECT count(*) AS n FROM messages')) === N,
      60_000,
      'all rows',
    );
    expect(await count(h, 'SELECT count(DISTINCT id) AS n FROM messages')).toBe(N);
    await waitUntil(
      async () => (await h.redis.xpending(h.keys.ingestStream(0), PERSISTER_GROUP))[0] === 0,
      20_000,
      'all acked',
    );
    const off = await h.pool.query(
      'SELECT "offset" FROM consumer_offsets WHERE consumer_group = $1 AND topic = $2',
      [PERSISTER_GROUP, h.keys.ingestStream(0)],
    );
    expect(off.rows[0]?.offset).toBe(lastId);

    // No doubled jobs: the worker saw each message once.
    await waitUntil(
      async () => (await count(h, "SELECT count(*) AS n FROM messages WHERE status = 'COMPLETED'")) === N,
      60_000,
      'all completed',
    );
    const times = new Map<string, number>();
    for (const id of seen) times.set(id, (times.get(id) ?? 0) + 1);
    expect(times.size).toBe(N);
    expect([...times.values()].filter((n) => n > 1)).toEqual([]);
    // SIGTERM: graceful, exit 0.
    expect(await second.stop(10_000)).toBe(0);
    expect(second.output()).toMatch(/"msg":"stopped"/);
  }, 180_000);
});
