// The whole fleet as real processes (1 gateway, 2 persisters, 3 workers) on a private Redis (AOF,
// appendfsync everysec, as production runs it) and a private Postgres, under crashes: kill -9 of a worker, a
// persister, the gateway, redis-server and the Postgres postmaster, while clients publish (half with durable
// ACKs, half with stream ACKs; un-ACKed messages resent under the same ids) and make requests.
// Each ack level's promise (docs/protocol.md section 7, docs/operations.md "Redis"): every durable-ACKed id
// is in `messages`, COMPLETED (or DEAD for poison messages); a stream-ACKed id may be missing only if it was
// ACKed in the last 2 s before redis-server was killed (the everysec window). No row is stored twice, and,
// counted from the handlers' side (test/e2e/fixtures/count-handled.ts), a message is handled more than once
// only if a handler had run it and it was not yet COMPLETED when a fault struck (work in flight), or it ran
// once in the everysec window before the redis-server kill and once after (the AOF lacked its job's end).
// Recovery in seconds: per fault it reports, from the moment the process or datastore is back, the time
// to full flow (a message published then is COMPLETED) and to the last row committed before the fault
// COMPLETED, and asserts them within 5 s and 10 s (docs/operations.md, "Recovery times", holds the
// measured table). The config keeps the defaults of every recovery setting (liveness TTL, claim_idle_ms,
// sweep_age_ms, lock_duration_ms, stalled_interval_ms): recovery must not come from test-only tuning.

import { rm } from 'node:fs/promises';
import { connect, type FleetClient, FleetError } from '@fleet/client';
import { FleetKeys, type JobData, PERSISTER_GROUP } from '@fleet/protocol';
import {
  createDatabase,
  freePort,
  type PrivatePostgres,
  type PrivateRedis,
  startPrivatePostgres,
  startPrivateRedis,
} from '@fleet/services';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestConfig } from '../helpers/config.js';
import { type AppProcess, killAllApps, REPO_ROOT, spawnApp } from '../helpers/processes.js';
import { handledCounts as handledCountsOf, handledDir, handledRuns } from './fixtures/count-handled.js';

const MESSAGES = Number(process.env.E2E_MESSAGES ?? 100_000);
const REQUESTS = Number(process.env.E2E_REQUESTS ?? 200);
const CLIENTS = 4;
const MAX_RETRIES = 2;
const TOPICS = ['order.created', 'order.paid', 'order.eu.shipped', 'order.refunded'];
const log = (line: string) => console.log(`[e2e] ${line}`);
/** The bounds, from the process or datastore being back. */
const FULL_FLOW_BOUND_MS = 5_000;
const PRE_CRASH_BOUND_MS = 10_000;
/** How long one fault's measurement may take before it is reported as not recovered. */
const MEASURE_DEADLINE_MS = 120_000;
/** AOF everysec: a Redis crash may lose writes of about the last second (up to 2 s when fsync lags). */
const EVERYSEC_WINDOW_MS = 2_000;
/** Requests made while the faults happen: at least this share answered by their handler (stated minimum). */
const STORM_REQUESTS_MIN_ANSWERED = 0.5;

interface Recovery {
  fault: string;
  fullFlowMs: number | null;
  preCrashMs: number | null;
  probeMs: number | null;
}

let redis: PrivateRedis;
let postgres: PrivatePostgres;
let configPath: string;
let prefix: string;
/** streams.shards of the fleet under test (the config's default unless set above). */
let shards = 1;
const fleetKeys = () => new FleetKeys(prefix, shards);
let dbUrl: string;
let gatewayPort: number;
let queueName: string;
const apps = new Map<string, AppProcess>();
/** Every process started, killed ones too: their warnings explain a failure. */
const allProcs: Array<[string, AppProcess]> = [];

/** The apps' warn, error and fatal lines (pino levels 40-60), for the log of a failed run. */
function logAppWarnings(): void {
  for (const [name, p] of allProcs)
    for (const line of p.output().split('\n'))
      if (/"level":(40|50|60)/.test(line)) console.log(`[${name}] ${line.slice(0, 400)}`);
}

async function start(name: string, app: 'gateway' | 'persister' | 'worker'): Promise<void> {
  const proc = spawnApp(app, { config: configPath });
  apps.set(name, proc);
  allProcs.push([name, proc]);
  await proc.waitReady(60_000).catch((err) => {
    throw new Error(`${name} did not get ready: ${(err as Error).message}\n${proc.output().slice(-4000)}`);
  });
}

async function kill9(name: string): Promise<void> {
  const proc = apps.get(name)!;
  proc.kill('SIGKILL');
  await proc.exited;
}

beforeAll(async () => {
  redis = await startPrivateRedis({ aof: true, appendfsync: 'everysec' });
  postgres = await startPrivatePostgres();
  dbUrl = await createDatabase(postgres.url, 'fleet_e2e');
  gatewayPort = await freePort();
  prefix = `fleet-e2e-${process.pid}`;
  const written = await writeTestConfig({
    network: { host: '127.0.0.1', port: gatewayPort, max_in_flight: 2000 },
    redis: { url: redis.url, key_prefix: prefix },
    database: { connection_string: dbUrl, pool: { max_connections: 4 } },
    logging: { level: 'info' },
    streams: { block_ms: 50 },
    queue: { batch_size: 100 },
    retry: { max_retries: MAX_RETRIES, backoff_ms: 50, backoff_max_ms: 500 },
    handlers: {
      modules: [`${REPO_ROOT}/examples/handlers/index.ts`, `${REPO_ROOT}/test/e2e/fixtures/count-handled.ts`],
      timeout_ms: 5_000,
      shutdown_timeout_ms: 2_000,
    },
    requests: { default_timeout_ms: 20_000 },
  });
  configPath = written.path;
  queueName = written.config.queue?.name ?? 'messages';
  shards = written.config.streams?.shards ?? 1;
  await start('persister-1', 'persister');
  await Promise.all([start('persister-2', 'persister'), start('gateway', 'gateway')]);
  await Promise.all([start('worker-1', 'worker'), start('worker-2', 'worker'), start('worker-3', 'worker')]);
}, 180_000);

let passed = false;
/** BullMQ handle the in-flight reads use (closed before Redis stops). */
let activeReaders: Queue[] | undefined;
let activeReaderConn: Redis | undefined;
afterAll(async () => {
  await Promise.all((activeReaders ?? []).map((q) => q.close().catch(() => {})));
  activeReaderConn?.disconnect();
  await Promise.all([...apps.values()].map((a) => a.stop(5_000).catch(() => undefined)));
  killAllApps();
  // dispose, not stop: the temp dirs go too (an exit hook would remove them, but not when the test worker
  // is ended without running it: runs left a Postgres data dir behind in /tmp).
  await redis?.dispose();
  await postgres?.dispose();
  // The handled-id files stay after a failure, to read which ids ran where.
  if (passed && prefix) await rm(handledDir(prefix), { recursive: true, force: true });
}, 60_000);

describe('the whole fleet under crashes', () => {
  it(`delivers ${MESSAGES} messages exactly once into Postgres and completes them`, async () => {
    const clients: FleetClient[] = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) =>
        connect({
          host: '127.0.0.1',
          port: gatewayPort,
          clientName: `e2e-${i}`,
          window: 500,
          reconnect: { retries: 1_000, minDelayMs: 50, maxDelayMs: 500 },
          connectTimeoutMs: 5_000,
        }),
      ),
    );
    const acked = new Set<string>();
    /** Stream-ACKed ids and when their ACK came (durable-ACKed ids are in `acked` only). */
    const streamAckedAt = new Map<string, number>();
    const poison = new Set<string>();
    let redisKilledAt = 0;
    /** Ids a handler had run and Postgres did not have COMPLETED when a fault struck: work in flight. */
    const inFlightAtFaults = new Set<string>();
    let published = 0;
    let resends = 0;

    // Publishes with the client's own resend; on an error answer (e.g. UNAVAILABLE while Redis restarts)
    // the caller publishes again under the same id, as the protocol doc says a client should.
    async function publishUntilAcked(
      client: FleetClient,
      topic: string,
      id: string,
      payload: object,
    ): Promise<void> {
      const durable = clients.indexOf(client) % 2 === 0;
      for (;;) {
        try {
          await client.publish(topic, payload, { id, ack: durable ? 'durable' : 'stream' });
          acked.add(id);
          if (!durable) streamAckedAt.set(id, Date.now());
          return;
        } catch (err) {
          if (!(err instanceof FleetError)) throw err;
          resends++;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }

    // Rows committed before a fault: seq <= the max seq read right after the crash (before it, for
    // Postgres and Redis). A row left open (not COMPLETED, not DEAD) is one the fleet still owes.
    let probeDb: pg.Client | null = null;
    const scalar = async (sql: string, values: unknown[] = []): Promise<number> => {
      try {
        if (!probeDb) {
          const c = new pg.Client({ connectionString: dbUrl });
          c.on('error', () => {});
          await c.connect();
          probeDb = c;
        }
        return Number((await probeDb.query(sql, values)).rows[0].n);
      } catch (err) {
        // Postgres restarted under this client: a new one once it is back.
        const c = probeDb;
        probeDb = null;
        await c?.end().catch(() => {});
        throw err;
      }
    };
    const maxSeq = () => scalar('SELECT coalesce(max(seq), 0) AS n FROM messages');

    /** Every id the counting handler wrote down so far, with how many times it ran. */
    const handledCounts = () => handledCountsOf(prefix);
    /**
     * Work in flight, added to the in-flight set: `db`, the ids a handler ran that Postgres does not have
     * COMPLETED; `jobs`, the messages of the jobs BullMQ holds active (a job whose handlers all ran, even
     * with its outcome in Postgres, runs again if its worker dies before BullMQ marked it finished).
     */
    async function noteInFlight(part: 'db' | 'jobs'): Promise<void> {
      if (part === 'jobs') {
        // One queue handle for every read, opened ahead: the read right after a kill must be quick.
        activeReaderConn ??= new Redis(redis.url, { maxRetriesPerRequest: null });
        // One BullMQ queue per shard (keys.bullPrefix(n)): the active jobs of every one.
        activeReaders ??= fleetKeys()
          .shardList()
          .map(
            (n) => new Queue(queueName, { connection: activeReaderConn!, prefix: fleetKeys().bullPrefix(n) }),
          );
        const active = (await Promise.all(activeReaders.map((q) => q.getActive()))).flat();
        let messages = 0;
        for (const job of active)
          for (const m of (job?.data as JobData | undefined)?.messages ?? []) {
            inFlightAtFaults.add(m.id);
            messages++;
          }
        log(`in flight: ${active.length} active jobs (${messages} messages)`);
        return;
      }
      const handled = await handledCounts();
      const c = new pg.Client({ connectionString: dbUrl });
      c.on('error', () => {}); // Postgres is killed right after this snapshot in one fault
      await c.connect();
      try {
        const { rows } = await c.query<{ id: string }>(
          "SELECT id FROM messages WHERE id LIKE 'e2e-%' AND status = 'COMPLETED'",
        );
        const completed = new Set(rows.map((r) => r.id));
        let open = 0;
        for (const id of handled.keys())
          if (!completed.has(id)) {
            inFlightAtFaults.add(id);
            open++;
          }
        log(`in flight: ${open} messages handled and not COMPLETED`);
      } finally {
        await c.end();
      }
    }

    /**
     * From `backAt`: full flow (a row committed after it is COMPLETED: every stage moves again), every row
     * up to `seq` settled, and a message published at `backAt` COMPLETED (it waits behind the backlog the
     * fault built up in the stream: reported, not bounded).
     */
    async function measure(k: number, fault: string, backAt: number, seq: number): Promise<Recovery> {
      const probe = `e2e-probe-${k}`;
      const probeAcked = publishUntilAcked(clients[k % CLIENTS]!, TOPICS[0]!, probe, { probe: k });
      const backSeq = await retryScalar(() => maxSeq());
      let fullFlowMs: number | null = null;
      let preCrashMs: number | null = null;
      let probeMs: number | null = null;
      while (
        (fullFlowMs === null || preCrashMs === null || probeMs === null) &&
        Date.now() - backAt < MEASURE_DEADLINE_MS
      ) {
        if (fullFlowMs === null) {
          const moved = await scalar(
            "SELECT count(*) AS n FROM (SELECT 1 FROM messages WHERE seq > $1 AND status = 'COMPLETED' LIMIT 1) x",
            [backSeq],
          ).catch(() => 0);
          if (moved === 1) fullFlowMs = Date.now() - backAt;
        }
        if (preCrashMs === null) {
          const open = await scalar(
            "SELECT count(*) AS n FROM messages_open WHERE seq <= $1 AND status <> 'DEAD'",
            [seq],
          ).catch(() => 1);
          if (open === 0) preCrashMs = Date.now() - backAt;
        }
        if (probeMs === null) {
          const done = await scalar(
            "SELECT count(*) AS n FROM messages WHERE id = $1 AND status = 'COMPLETED'",
            [probe],
          ).catch(() => 0);
          if (done === 1) probeMs = Date.now() - backAt;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      await probeAcked;
      log(
        `recovery: ${fault}: full flow ${fullFlowMs} ms, last pre-crash row COMPLETED ${preCrashMs} ms, message published when back COMPLETED ${probeMs} ms after back`,
      );
      return { fault, fullFlowMs, preCrashMs, probeMs };
    }

    /** Postgres may still be starting when a measurement begins. */
    async function retryScalar(fn: () => Promise<number>): Promise<number> {
      for (;;) {
        try {
          return await fn();
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }

    // Each fault: crash, then recover (the process or datastore is back when recover() returns).
    const faults: Array<{
      at: number;
      name: string;
      crash: () => Promise<void>;
      recover?: () => Promise<void>;
      seqBefore?: boolean;
      /**
       * When to read work in flight (default: both right after the crash, jobs first). `before-after` reads
       * the active jobs just before the crash too: a killed worker's jobs leave the active list once its
       * locks expire (2.5-5 s after the kill), so a slow read after it can miss them.
       */
      inFlight?: { db: 'before' | 'after'; jobs: 'after' | 'before-after' | 'recovered' };
    }> = [
      {
        at: 0.15,
        name: 'kill -9 worker-1',
        crash: () => kill9('worker-1'),
        inFlight: { db: 'after', jobs: 'before-after' },
      },
      {
        at: 0.3,
        name: 'kill -9 persister-1, start it again',
        crash: () => kill9('persister-1'),
        recover: () => start('persister-1', 'persister'),
      },
      {
        at: 0.45,
        name: 'kill -9 gateway, start it again',
        crash: () => kill9('gateway'),
        recover: () => start('gateway', 'gateway'),
      },
      {
        at: 0.6,
        name: 'kill -9 redis-server (AOF everysec), start it again',
        crash: async () => {
          redisKilledAt = Date.now();
          await redis.kill();
        },
        recover: () => redis.restart(),
        seqBefore: true,
        // Redis is gone after the crash: its active jobs are read once it is back (AOF restored them).
        inFlight: { db: 'before', jobs: 'recovered' },
      },
      {
        at: 0.75,
        name: 'kill -9 Postgres (like pg_ctl stop -m immediate), start it again',
        crash: () => postgres.kill(),
        recover: () => postgres.start(),
        seqBefore: true,
        inFlight: { db: 'before', jobs: 'after' },
      },
    ];
    const done: string[] = [];
    const recoveries: Recovery[] = [];
    let gate = faults[0]!.at * MESSAGES;
    const faultDriver = (async () => {
      for (let k = 0; k < faults.length; k++) {
        const { at, name, crash, recover, seqBefore } = faults[k]!;
        const inFlight = faults[k]!.inFlight ?? { db: 'after', jobs: 'after' };
        while (published < at * MESSAGES) await new Promise((r) => setTimeout(r, 10));
        gate = k + 1 < faults.length ? faults[k + 1]!.at * MESSAGES : Number.POSITIVE_INFINITY;
        log(`fault: ${name} (at ${published} published, ${acked.size} acked)`);
        let seq = seqBefore ? await maxSeq() : 0;
        if (inFlight.db === 'before') await noteInFlight('db');
        if (inFlight.jobs === 'before-after') await noteInFlight('jobs');
        await crash();
        // After the crash: a superset of what was in flight at the crash (workers keep handling). The
        // active jobs first: they are the quick read, and the one that goes stale (see inFlight). Found
        // on a loaded box: with the Postgres read first, a killed worker's jobs (re-run ~5 s after the
        // kill) were gone from the active list and 599 of its last handled messages counted as outside.
        if (inFlight.jobs !== 'recovered') await noteInFlight('jobs');
        if (inFlight.db === 'after') await noteInFlight('db');
        if (!seqBefore) seq = await maxSeq();
        await recover?.();
        if (inFlight.jobs === 'recovered') await noteInFlight('jobs');
        const backAt = Date.now();
        log(`fault done: ${name}`);
        recoveries.push(await measure(k, name, backAt, seq));
        done.push(name);
      }
      gate = Number.POSITIVE_INFINITY;
    })();
    // Requests while the faults happen: each answered by the handler or failed with a transient error.
    let stormAnswered = 0;
    const stormFailures = new Map<string, number>();
    let storming = true;
    const stormRequests = (async () => {
      for (let i = 0; storming; i++) {
        const client = clients[i % CLIENTS]!;
        void client
          .request('math.add', { a: i, b: 2 }, { timeoutMs: 10_000 })
          .then((r) => {
            expect(r.json<number>()).toBe(i + 2);
            stormAnswered++;
          })
          .catch((err: unknown) => {
            const code = err instanceof FleetError ? err.codeName : String(err);
            stormFailures.set(code, (stormFailures.get(code) ?? 0) + 1);
          });
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const started = Date.now();
    const progress = setInterval(
      () => log(`published ${published}/${MESSAGES}, acked ${acked.size}, resends ${resends}`),
      5_000,
    );

    const perClient = Math.ceil(MESSAGES / CLIENTS);
    await Promise.all(
      clients.map(async (client, c) => {
        const inflight = new Set<Promise<void>>();
        for (let i = 0; i < perClient && c * perClient + i < MESSAGES; i++) {
          const n = c * perClient + i;
          const isPoison = n % 500 === 7;
          const topic = isPoison ? `poison.e2e.${c}` : TOPICS[n % TOPICS.length]!;
          const id = `e2e-${c}-${i}`;
          if (isPoison) poison.add(id);
          const p = publishUntilAcked(client, topic, id, { n }).finally(() => inflight.delete(p));
          inflight.add(p);
          published++;
          // Publishing may run ahead only up to the next fault's mark until the running fault is done,
          // so every fault happens under load.
          while (published >= gate) await new Promise((r) => setTimeout(r, 10));
          if (inflight.size >= 400) await Promise.race(inflight);
        }
        await Promise.all(inflight);
      }),
    );
    await faultDriver;
    storming = false;
    await stormRequests;
    clearInterval(progress);
    log(
      `all ${acked.size} publishes ACKed in ${((Date.now() - started) / 1000).toFixed(1)} s (${resends} resends); faults: ${done.join('; ')}`,
    );
    expect(done).toHaveLength(faults.length);
    console.table(recoveries);
    // Mutation tried: handlers.lock_duration_ms / stalled_interval_ms defaults back to 30 s: the killed
    // worker's rows were COMPLETED only 51 s after the kill, far past its pre-crash bound. (The persister
    // mutations are checked by kill-restart, dead-persister-rows and postgres-kill in apps/persister/test.)
    for (const r of recoveries) {
      expect(r.fullFlowMs, `${r.fault}: full flow`).not.toBeNull();
      expect(r.fullFlowMs!, `${r.fault}: full flow`).toBeLessThan(FULL_FLOW_BOUND_MS);
      expect(r.preCrashMs, `${r.fault}: last pre-crash row`).not.toBeNull();
      expect(r.preCrashMs!, `${r.fault}: last pre-crash row`).toBeLessThan(PRE_CRASH_BOUND_MS);
    }
    await (probeDb as pg.Client | null)?.end().catch(() => {});

    // Request/reply during the storm: at least the stated share answered by the handler.
    // (Requests still pending here are answered or time out below, while the requests after the storm run.)
    await new Promise((r) => setTimeout(r, 10_500));
    const stormTotal = stormAnswered + [...stormFailures.values()].reduce((a, b) => a + b, 0);
    log(
      `requests during the faults: ${stormAnswered}/${stormTotal} answered, failures ${JSON.stringify(Object.fromEntries(stormFailures))}`,
    );
    expect(stormAnswered / Math.max(1, stormTotal)).toBeGreaterThanOrEqual(STORM_REQUESTS_MIN_ANSWERED);
    // A failure is the fault's (timeout, unavailable, a dropped connection), never the handler's.
    expect(stormFailures.has('handler_error'), JSON.stringify([...stormFailures])).toBe(false);

    // Request/reply after the storm: with the fleet recovered, nearly every request is answered by its
    // handler (a TIMEOUT only while the backlog the faults left drains): at least 95%.
    let responses = 0;
    let timeouts = 0;
    await Promise.all(
      Array.from({ length: REQUESTS }, async (_, i) => {
        try {
          const r = await clients[i % CLIENTS]!.request('math.add', { a: i, b: 1 }, { timeoutMs: 20_000 });
          expect(r.json<number>()).toBe(i + 1);
          responses++;
        } catch (err) {
          expect((err as FleetError).codeName, String(err)).toBe('timeout');
          timeouts++;
        }
      }),
    );
    log(`requests: ${responses} responses, ${timeouts} timeouts`);
    expect(responses + timeouts).toBe(REQUESTS);
    expect(responses).toBeGreaterThanOrEqual(Math.ceil(REQUESTS * 0.95));
    await Promise.all(clients.map((c) => c.close()));

    // Wait for every message to reach a final status.
    const db = new pg.Client({ connectionString: dbUrl });
    // Left open when an assertion below fails: afterAll's Postgres stop must not be an uncaught error.
    db.on('error', () => {});
    await db.connect();
    const deadline = Date.now() + 240_000;
    let counts: Record<string, number> = {};
    for (;;) {
      const { rows } = await db.query<{ status: string; n: string }>(
        "SELECT status, count(*)::text AS n FROM messages WHERE id LIKE 'e2e-%' GROUP BY status",
      );
      counts = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
      const final = (counts.COMPLETED ?? 0) + (counts.DEAD ?? 0);
      if (final >= acked.size || Date.now() > deadline) break;
      log(`waiting for final statuses: ${JSON.stringify(counts)}`);
      await new Promise((r) => setTimeout(r, 3_000));
    }
    log(`statuses: ${JSON.stringify(counts)}`);
    if ((counts.COMPLETED ?? 0) + (counts.DEAD ?? 0) < acked.size) logAppWarnings();

    const { rows: dup } = await db.query<{ total: string; distinct_ids: string }>(
      'SELECT count(*)::text AS total, count(DISTINCT id)::text AS distinct_ids FROM messages',
    );
    expect(dup[0]!.total).toBe(dup[0]!.distinct_ids);

    const { rows } = await db.query<{
      id: string;
      status: string;
      retry_count: number;
      last_error: string | null;
    }>("SELECT id, status, retry_count, last_error FROM messages WHERE id LIKE 'e2e-%'");
    const byId = new Map(rows.map((r) => [r.id, r]));
    const missing = [...acked].filter((id) => !byId.has(id));
    // Durable ACKs: nothing missing. Stream ACKs: only what redis-server may lose in its everysec window.
    const missingDurable = missing.filter((id) => !streamAckedAt.has(id));
    expect(missingDurable.slice(0, 10), `${missingDurable.length} durable-ACKed ids missing`).toEqual([]);
    const lostOutsideWindow = missing.filter(
      (id) => (streamAckedAt.get(id) ?? 0) < redisKilledAt - EVERYSEC_WINDOW_MS,
    );
    expect(lostOutsideWindow.slice(0, 10), `${lostOutsideWindow.length} stream-ACKed ids lost`).toEqual([]);
    log(`stream-ACKed ids lost by the redis-server kill (everysec window): ${missing.length}`);
    const kept = [...acked].filter((id) => byId.has(id));
    const wrong = kept.filter((id) => byId.get(id)!.status !== (poison.has(id) ? 'DEAD' : 'COMPLETED'));
    expect(
      wrong.slice(0, 10).map((id) => byId.get(id)),
      `${wrong.length} messages not in their final status`,
    ).toEqual([]);
    for (const id of poison) {
      if (!byId.has(id)) continue; // a stream-ACKed one lost in the everysec window (checked above)
      expect(byId.get(id)!.retry_count).toBe(MAX_RETRIES);
      expect(byId.get(id)!.last_error).toBeTruthy();
    }

    // Exactly once, from the handlers' side: every stored non-poison message handled at least once, and
    // more than once only if it was in flight when a fault struck. Mutation checked: with the ingest job
    // ids made non-deterministic (batchJobId with a random suffix, so a replayed stream entry is enqueued
    // a second time), 299 messages were handled twice outside the in-flight sets and this failed (that
    // mutation's duplicates depend on a lost reply: two later runs passed). Rechecked with the everysec
    // rule: Dispatcher.dispatchNew adding one job in 16 a second time (`-x` id): 3840 outside, failed.
    const handled = await handledCounts();
    const unhandled = kept.filter((id) => !poison.has(id) && !handled.has(id));
    expect(unhandled.slice(0, 10), `${unhandled.length} stored messages never handled`).toEqual([]);
    const twice = [...handled].filter(([, n]) => n > 1).map(([id]) => id);
    // A job finished in the everysec window before the redis-server kill comes back with the AOF (its
    // completion was not written) and runs again: allowed for a message run exactly twice, once in that
    // window and once after the kill. Found in a full run on a loaded box (slow fsync): one 100-message
    // job handled before the kill, back in `wait` after it, handled again. A job added twice after the
    // kill (the mutation below) runs both times after it: still caught.
    const runsOf = new Map<string, number[]>();
    for (const run of await handledRuns(prefix))
      if (handled.get(run.id)! > 1) runsOf.set(run.id, [...(runsOf.get(run.id) ?? []), run.at]);
    const aofRerun = (id: string) => {
      const [first, second, ...more] = (runsOf.get(id) ?? []).sort((a, b) => a - b);
      return (
        more.length === 0 &&
        first! >= redisKilledAt - EVERYSEC_WINDOW_MS &&
        first! <= redisKilledAt &&
        second! > redisKilledAt
      );
    };
    const rerunAfterAof = twice.filter((id) => !inFlightAtFaults.has(id) && aofRerun(id));
    const outsideInFlight = twice.filter((id) => !inFlightAtFaults.has(id) && !aofRerun(id));
    log(
      `handled: ${handled.size} ids, ${twice.length} more than once (in flight at the faults: ${inFlightAtFaults.size}; run in the everysec window before the redis-server kill and again after it: ${rerunAfterAof.length})`,
    );
    if (outsideInFlight.length > 0) logAppWarnings();
    expect(
      outsideInFlight.slice(0, 10),
      `${outsideInFlight.length} handled twice while not in flight`,
    ).toEqual([]);

    // Consumer offsets match the streams, and the persisters trimmed what they had persisted.
    const keys = fleetKeys();
    const r = new Redis(redis.url);
    for (const stream of keys.ingestStreams()) {
      const { rows: off } = await db.query<{ offset: string }>(
        'SELECT "offset" FROM consumer_offsets WHERE consumer_group = $1 AND topic = $2',
        [PERSISTER_GROUP, stream],
      );
      const groups = (await r.xinfo('GROUPS', stream)) as unknown[][];
      const group = groups.map((g) => Object.fromEntries(chunk(g))).find((g) => g.name === PERSISTER_GROUP)!;
      expect(off[0]?.offset).toBe(group['last-delivered-id']);
      let len = await r.xlen(stream);
      for (let i = 0; i < 30 && len > 1000; i++) {
        await new Promise((res) => setTimeout(res, 1_000));
        len = await r.xlen(stream);
      }
      log(`${stream}: offset ${off[0]?.offset}, ${len} entries left after trimming`);
      expect(len).toBeLessThanOrEqual(1000);
    }
    r.disconnect();
    await db.end();
    log(
      `done: ${acked.size} ACKed, ${counts.COMPLETED ?? 0} COMPLETED, ${counts.DEAD ?? 0} DEAD (${poison.size} poison), no duplicates`,
    );
    passed = true;
  }, 900_000);
});

function chunk(flat: unknown[]): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (let i = 0; i < flat.length; i += 2) out.push([String(flat[i]), flat[i + 1]]);
  return out;
}
