// Guarantee: after Postgres crashes (SIGKILL of the postmaster, like `pg_ctl stop -m immediate`) and comes
// back, the flow resumes within 5 s and every row committed before the crash is COMPLETED within 10 s.
// Before: the outcomes of the status batch that failed during the outage stayed pending on the live
// persister until claim_idle_ms, so rows persisted in that second stayed PENDING/PROCESSING ~45 s.
import { STATUS_GROUP } from '@fleet/protocol';
import { type PrivatePostgres, startPrivatePostgres } from '@fleet/services';
import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Persister, startPersister } from '../src/persister.js';
import {
  fakeWorker,
  type Harness,
  harness,
  memoryLogger,
  publish,
  testConfig,
  waitUntil,
} from './harness.js';

const FULL_FLOW_BOUND_MS = 5_000;
const PRE_CRASH_BOUND_MS = 10_000;
const BATCH = 50;
const PUBLISH_EVERY_MS = 100;

describe('Postgres killed under load, then started again', () => {
  let h: Harness;
  let pgPrivate: PrivatePostgres;
  let p: Persister | undefined;
  let w: Worker | undefined;

  beforeAll(async () => {
    h = await harness('pgkill');
    pgPrivate = await startPrivatePostgres();
  }, 120_000);
  afterAll(async () => {
    await w?.close();
    await p?.close();
    await pgPrivate?.dispose();
    await h?.close();
  });

  const scalar = async (sql: string, values: unknown[] = []) =>
    Number((await p!.pool.query(sql, values)).rows[0].n);

  it('resumes within 5 s and completes every pre-crash row within 10 s of Postgres being back', async () => {
    const cfg = testConfig(h.cfg.redis.key_prefix, pgPrivate.url, 4, { streams: { read_count: 200 } });
    expect(cfg.streams.claim_idle_ms + cfg.retry.sweep_age_ms).toBeGreaterThan(PRE_CRASH_BOUND_MS);
    p = await startPersister(cfg, { logger: memoryLogger(), ops: false, consumerName: 'pgkill-a' });
    w = fakeWorker(h, () => 'COMPLETED');

    let round = 0;
    let publishing = true;
    const publisher = (async () => {
      while (publishing) {
        const r = round++;
        await publish(
          h,
          Array.from({ length: BATCH }, (_, i) => `load-${r}-${i}`),
        );
        await new Promise((res) => setTimeout(res, PUBLISH_EVERY_MS));
      }
    })();
    await waitUntil(
      async () => (await scalar("SELECT count(*) AS n FROM messages WHERE status = 'COMPLETED'")) > 1_000,
      60_000,
      'flow before the crash',
    );

    // Outcomes must be in transit when Postgres dies: jobs wait while the worker is paused, Postgres is
    // killed, then the worker runs them and the persister reads their outcomes but cannot apply them.
    await w.pause();
    await waitUntil(async () => (await p!.bull.getWaitingCount()) >= 3, 60_000, 'jobs waiting');
    const killedAt = new Date();
    await pgPrivate.kill();
    w.resume();
    await waitUntil(
      async () => Number((await h.redis.xpending(h.keys.statusStream(0), STATUS_GROUP))[0]) > 0,
      60_000,
      'outcomes read and not applied',
    );
    await pgPrivate.start();
    const back = Date.now();

    // Full flow: a message published now is COMPLETED.
    await publish(h, ['probe-after-crash']);
    await waitUntil(
      async () =>
        (await scalar(
          "SELECT count(*) AS n FROM messages WHERE id = 'probe-after-crash' AND status = 'COMPLETED'",
        ).catch(() => 0)) === 1,
      60_000,
      'the probe COMPLETED',
    );
    const fullFlowMs = Date.now() - back;
    // Every row committed before the crash (crash recovery keeps exactly those) is COMPLETED.
    await waitUntil(
      async () =>
        (await scalar("SELECT count(*) AS n FROM messages WHERE created_at <= $1 AND status <> 'COMPLETED'", [
          killedAt,
        ]).catch(() => 1)) === 0,
      60_000,
      'every pre-crash row COMPLETED',
    );
    const preCrashMs = Date.now() - back;
    publishing = false;
    await publisher;
    console.log(
      `[postgres-kill] full flow ${fullFlowMs} ms, last pre-crash row COMPLETED ${preCrashMs} ms after Postgres was back`,
    );
    // Mutation tried: the status consumer no longer re-reading its own pending entries after a failure
    // (ownPending = true removed from its catch): the outcomes of the batch that failed during the
    // outage were never applied (no peer claims a live consumer's entries) and the pre-crash wait timed out.
    expect(fullFlowMs).toBeLessThan(FULL_FLOW_BOUND_MS);
    expect(preCrashMs).toBeLessThan(PRE_CRASH_BOUND_MS);

    // Everything published ends COMPLETED, once.
    const published = round * BATCH + 1;
    await waitUntil(
      async () =>
        (await scalar("SELECT count(*) AS n FROM messages WHERE status = 'COMPLETED'")) === published,
      60_000,
      'every message COMPLETED',
    );
    expect(await scalar('SELECT count(DISTINCT id) AS n FROM messages')).toBe(published);
  }, 180_000);
});
