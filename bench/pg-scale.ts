/**
 * Postgres at scale: the persister's statements and the status path on a `messages` table pre-grown to BENCH_ROWS rows (default 50M) beside an empty one, plus the cost of retention.
 *
 * Two private databases, migrated with @fleet/store's migrations, dropped at the end (also on failure and
 * SIGINT/SIGTERM). The big one is grown inside Postgres (INSERT ... SELECT FROM generate_series, in chunks
 * over BENCH_GROW_CONNS connections; never through the app): time-ordered UUIDv7-layout ids, 40 topics,
 * ~200-byte envelopes, created_at spread over the past 7 days, COMPLETED except a few DEAD (0.1 %) and the
 * newest 0.05 % PENDING, both mirrored in `messages_open`; then VACUUM ANALYZE and a CHECKPOINT.
 * Then, in rounds alternating the two databases, the hot path through the real PersistStore: two loops of
 * persistBatch (BENCH_BATCH rows of ~200 B + an offset, as the persister's two pipelines) and one loop of
 * applyStatuses(COMPLETED) for the ids persisted (the status path), flat out for BENCH_PHASE_S seconds,
 * while a probe times the operator's and the persister's other statements (countPending, listDead,
 * countDead, sweepStale, readFrom near the end of the log). Figures: messages/s, statuses/s, CPU per
 * message of the hot path's Postgres backends (read from /proc), p50/p95/p99 of each operation.
 * Retention (one function, retention()): PersistStore.maintainLog with max ages that make the oldest day's
 * partition (a seventh of the big table) expired, so it is dropped, while a writer persists and completes at
 * a fixed rate; its CPU per message over a window of BENCH_PHASE_S (at least) around the retention run,
 * beside the same writer without retention, in the same run.
 * Env: BENCH_ROWS (default 50000000), BENCH_PHASE_S (15), BENCH_ROUNDS (2), BENCH_BATCH (500),
 * BENCH_GROW_CONNS (2), BENCH_GROW_CHUNK (50000), BENCH_RETENTION_RATE (msg/s of the writer during the
 * retention step; default half the big table's measured rate), BENCH_OPEN_DAY=1 (the last day's rows stay
 * in the current partition, which the hot path then writes to, instead of a closed one),
 * FLEET_BENCH_POSTGRES_URL.
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { encodeEnvelope, MessageStatus, newMessageId } from '@fleet/protocol';
import { createDatabase, dropDatabase, LOCAL_POSTGRES_URL } from '@fleet/services';
import { createPool, migrate, type NewMessage, PersistStore } from '@fleet/store';
import pg from 'pg';
import { rollLog } from '../packages/store/test/fixtures.js';
import { machine } from './lib/machine.js';
import { type OpLatency, OpTimer } from './lib/op-timer.js';
import { cpuSeconds } from './lib/proc-cpu.js';

const env = (name: string, dflt: number) => {
  const v = process.env[name];
  const n = v === undefined || v === '' ? dflt : Number(v.replace(/_/g, ''));
  if (!(n >= 0) || !Number.isFinite(n)) throw new Error(`${name} must be a non-negative number, got "${v}"`);
  return n;
};
const ROWS = Math.round(env('BENCH_ROWS', 50_000_000));
const PHASE_S = env('BENCH_PHASE_S', 15);
const ROUNDS = Math.max(1, Math.round(env('BENCH_ROUNDS', 2)));
const BATCH = Math.max(1, Math.round(env('BENCH_BATCH', 500)));
const GROW_CONNS = Math.max(1, Math.round(env('BENCH_GROW_CONNS', 2)));
const GROW_CHUNK = Math.max(1000, Math.round(env('BENCH_GROW_CHUNK', 50_000)));
/** The grown rows' created_at: evenly over this span, ending GROWN_END_MS before growth started. */
const SPAN_MS = 7 * 86_400_000;
/** BENCH_OPEN_DAY=1: the last day stays the current partition (a fleet mid-day), not closed first. */
const OPEN_DAY = process.env.BENCH_OPEN_DAY === '1';
const GROWN_END_MS = 60_000;
/** One partition of the log per day of the span (retention.partition_interval_s's default). */
const DAYS = 7;
const TOPICS = 40;
const DEAD_EVERY = 1000; // 0.1 % of the grown rows are DEAD
const PENDING_FRACTION = 0.0005; // the newest 0.05 % are still PENDING (in flight)
/** The sweep's default age (retry.sweep_age_ms) and page (apps/persister/src/sweeper.ts SWEEP_PAGE). */
const SWEEP_AGE_MS = 120_000;
const SWEEP_PAGE = 5_000;
/** dispatch's DEAD_COUNT_BOUND: the bound of the operator's dead-letter count. */
const DEAD_COUNT_BOUND = 1_000_000;
/** The persister's retention batch (apps/persister/src/persister.ts). */
const RETENTION_BATCH = 5_000;

const progress = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const secs = (s: number) =>
  s >= 3600
    ? `${(s / 3600).toFixed(1)}h`
    : s >= 60
      ? `${Math.floor(s / 60)}m${Math.round(s % 60)}s`
      : s < 10
        ? `${s.toFixed(1)}s`
        : `${Math.round(s)}s`;

// One ~200-byte envelope for every message the bench persists (as in persister-ops: the database stores
// and indexes the same bytes whatever they hold; the bench process keeps its CPU for driving Postgres).
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const HEADERS = { tenant: 'bench' };
const ENVELOPE = encodeEnvelope({
  id: newMessageId(),
  topic: 'bench.topic07',
  type: 'event',
  priority: 1,
  timestamp: Date.now(),
  headers: HEADERS,
  payload: randomBytes(70),
  traceparent: TRACEPARENT,
});

// ---------------------------------------------------------------------------------------------------
// Growth. The only part that writes `messages` behind the store's back. The log is partitioned by time
// (packages/store README): the rows of each of the 7 days go into a partition of their own, rolled with
// the migration's fleet_log_* functions as the persister's maintenance would, and each partition's
// opened/closed times are set to its day. It names only columns of the migrations and lets `seq` take its
// default.
// ---------------------------------------------------------------------------------------------------

/**
 * One chunk of grown rows i in [$1, $2) of $3: created_at evenly from $4 (epoch ms) over $5 ms, ids in
 * the UUIDv7 layout of @fleet/protocol newMessageId (48-bit ms, version 7, variant 10, random bits from an
 * md5 of i), envelope = $6 (a template) + 32 bytes that differ per row. Rows from $7 on are PENDING, every
 * $8-th other row is DEAD (3 attempts, updated 90 s after it was created), the rest COMPLETED 40 ms after
 * creation. The rows not COMPLETED enter messages_open in the same statement, as the store's do.
 */
const GROW_SQL = `
WITH g AS (
  SELECT i, ($4::float8 + i::float8 * $5::float8 / $3::float8)::bigint AS ms, md5($9::text || i::text) AS h
  FROM generate_series($1::bigint, $2::bigint - 1) AS i
), r AS (
  SELECT i, ms, h, lpad(to_hex(ms), 12, '0') AS mx,
    timestamptz 'epoch' + ms * interval '1 millisecond' AS t,
    CASE WHEN i >= $7::bigint THEN 'PENDING' WHEN i % $8::bigint = 0 THEN 'DEAD' ELSE 'COMPLETED' END AS status
  FROM g
), ins AS (
  INSERT INTO messages (id, stream_id, topic, type, priority, sent_at, envelope, headers, traceparent,
                        status, retry_count, last_error, created_at, updated_at)
  SELECT substr(mx, 1, 8) || '-' || substr(mx, 9, 4) || '-7' || substr(h, 1, 3) || '-'
           || substr('89ab', (i % 4)::int + 1, 1) || substr(h, 4, 3) || '-' || substr(h, 7, 12),
         ms::text || '-' || (i % 8)::text,
         'bench.topic' || lpad(((i * 7919) % $10::bigint)::text, 2, '0'),
         'event', 1, t - interval '5 milliseconds',
         $6::bytea || convert_to(h, 'UTF8'),
         '{"tenant":"bench"}'::jsonb,
         '00-' || h || '-' || substr(h, 9, 16) || '-01',
         status,
         CASE status WHEN 'DEAD' THEN 3 ELSE 0 END,
         CASE status WHEN 'DEAD' THEN 'bench: handler failed' END,
         t,
         CASE status WHEN 'COMPLETED' THEN t + interval '40 milliseconds'
                     WHEN 'DEAD' THEN t + interval '90 seconds' ELSE t END
  FROM r
  RETURNING seq, status, updated_at
)
INSERT INTO messages_open (seq, status, updated_at)
SELECT seq, status, updated_at FROM ins WHERE status <> 'COMPLETED'`;

export interface GrowReport {
  rows: number;
  growS: number;
  vacuumS: number;
  rowsPerS: number;
  /** Oldest grown row's created_at (epoch ms): retention's max ages are measured from it. */
  startMs: number;
  sizeBytes: number;
}

/**
 * Grows `messages` of `url` (freshly migrated, empty) to `rows` rows, over `days` partitions each closed by
 * a roll (the last one too, unless `leaveLastOpen`); progress every 2 s with an ETA.
 */
export async function growMessages(
  url: string,
  rows: number,
  { days = DAYS, leaveLastOpen = false }: { days?: number; leaveLastOpen?: boolean } = {},
): Promise<GrowReport> {
  const startMs = Date.now() - GROWN_END_MS - SPAN_MS;
  const template = ENVELOPE.subarray(0, Math.max(0, ENVELOPE.length - 32));
  const pendingFrom = rows - Math.max(1, Math.round(rows * PENDING_FRACTION));
  const salt = randomBytes(4).toString('hex');
  const admin = await connect(url);
  // Autovacuum would scan the tables again and again while they grow; one VACUUM ANALYZE follows instead.
  await admin.query('ALTER TABLE messages_open SET (autovacuum_enabled = false)');
  const current = async () =>
    Number(
      (await admin.query('SELECT max(n) AS n FROM message_partitions WHERE opened_at IS NOT NULL')).rows[0].n,
    );
  let done = 0;
  const t0 = Date.now();
  let lastAt = t0;
  let lastDone = 0;
  const ticker = setInterval(() => {
    const now = Date.now();
    const rate = (done - lastDone) / ((now - lastAt) / 1000);
    const overall = done / ((now - t0) / 1000);
    progress(
      `  grow: ${fmt(done)}/${fmt(rows)} rows (${((done / rows) * 100).toFixed(1)}%), ${fmt(rate)} rows/s now, ${fmt(overall)} overall, ETA ${overall > 0 ? secs((rows - done) / overall) : '?'}`,
    );
    lastAt = now;
    lastDone = done;
  }, 2000);
  const partitions: number[] = [];
  try {
    for (let day = 0; day < days; day++) {
      const dayFrom = Math.floor((rows * day) / days);
      const dayTo = Math.floor((rows * (day + 1)) / days);
      const part = await current();
      partitions.push(part);
      await admin.query(`ALTER TABLE messages_p${part} SET (autovacuum_enabled = false)`);
      const chunks = Math.ceil((dayTo - dayFrom) / GROW_CHUNK);
      let nextChunk = 0;
      await Promise.all(
        Array.from({ length: GROW_CONNS }, async () => {
          const c = await connect(url);
          try {
            // Bulk load: a lost chunk on a crash is harmless here, a flush per chunk is not.
            await c.query('SET synchronous_commit = off');
            for (let k = nextChunk++; k < chunks; k = nextChunk++) {
              const from = dayFrom + k * GROW_CHUNK;
              const to = Math.min(dayTo, from + GROW_CHUNK);
              await c.query(GROW_SQL, [
                from,
                to,
                rows,
                startMs,
                SPAN_MS,
                template,
                pendingFrom,
                DEAD_EVERY,
                salt,
                TOPICS,
              ]);
              done += to - from;
            }
          } finally {
            await c.end();
          }
        }),
      );
      // The day's partition: opened and closed at its day's bounds; the next day's rows go to the next one.
      if (leaveLastOpen && day === days - 1) break;
      await rollLog(admin);
      await admin.query(
        `UPDATE message_partitions SET opened_at = timestamptz 'epoch' + $2 * interval '1 millisecond',
           closed_at = timestamptz 'epoch' + $3 * interval '1 millisecond' WHERE n = $1`,
        [part, startMs + (SPAN_MS * day) / days, startMs + (SPAN_MS * (day + 1)) / days],
      );
    }
  } finally {
    clearInterval(ticker);
  }
  const growS = (Date.now() - t0) / 1000;
  progress(`  grow: ${fmt(rows)} rows in ${secs(growS)} (${fmt(rows / growS)} rows/s); VACUUM ANALYZE ...`);
  const v0 = Date.now();
  for (const part of partitions)
    await admin.query(`ALTER TABLE messages_p${part} RESET (autovacuum_enabled)`);
  await admin.query('ALTER TABLE messages_open RESET (autovacuum_enabled)');
  // The grown (closed) partitions only: the current one and those created ahead stay unanalyzed, as in
  // a live fleet, where the persisters analyze the current one once it holds 4 MB (hotPath does it too).
  for (const part of partitions) await admin.query(`VACUUM ANALYZE messages_p${part}`);
  await admin.query('VACUUM ANALYZE messages_open');
  // The growth's dirty pages are written now, not during the timed phases (needs superuser or
  // pg_checkpoint; skipped without).
  await admin.query('CHECKPOINT').catch(() => {});
  const vacuumS = (Date.now() - v0) / 1000;
  const sizeBytes = Number(
    (
      await admin.query(
        `SELECT sum(pg_total_relation_size(inhrelid)) AS b FROM pg_inherits WHERE inhparent = 'messages'::regclass`,
      )
    ).rows[0].b,
  );
  await admin.end();
  progress(
    `  vacuum analyze + checkpoint: ${secs(vacuumS)}; messages is ${(sizeBytes / 2 ** 30).toFixed(2)} GiB`,
  );
  return { rows, growS, vacuumS, rowsPerS: Math.round(rows / growS), startMs, sizeBytes };
}

// ---------------------------------------------------------------------------------------------------
// Hot path and operations, through the store.
// ---------------------------------------------------------------------------------------------------

const HOT_OPS = ['persist_batch', 'apply_statuses'] as const;
const PROBE_OPS = ['count_pending', 'list_dead', 'count_dead', 'sweep_stale', 'read_from'] as const;
const OPS = [...HOT_OPS, ...PROBE_OPS] as const;
type Op = (typeof OPS)[number];

function newRows(n: number): NewMessage[] {
  const now = Date.now();
  return Array.from({ length: n }, (_, k) => ({
    id: newMessageId(now),
    streamId: `${now}-${k}`,
    envelope: ENVELOPE,
    topic: `bench.topic${String(k % TOPICS).padStart(2, '0')}`,
    type: 'event',
    priority: 1,
    timestamp: now,
    traceparent: TRACEPARENT,
    headers: HEADERS,
  }));
}

/** A pool whose connections stay open, and the pids of their backends (for their CPU in /proc). */
async function backendPool(
  url: string,
  name: string,
  size: number,
): Promise<{ pool: pg.Pool; pids: number[] }> {
  // The fleet's own pool (its session settings: jit off).
  const pool = createPool(
    url,
    { min_connections: 0, max_connections: size, idle_timeout_s: 0 },
    { applicationName: name },
  );
  const clients = await Promise.all(Array.from({ length: size }, () => pool.connect()));
  const pids = (await Promise.all(clients.map((c) => c.query('SELECT pg_backend_pid() AS pid')))).map((r) =>
    Number(r.rows[0].pid),
  );
  for (const c of clients) c.release();
  return { pool, pids };
}
/** A connected client; errors of a session the cleanup's DROP DATABASE ... FORCE ends are expected. */
async function connect(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => {});
  await c.connect();
  return c;
}
const backendsCpu = (pids: number[]) => pids.reduce((s, p) => s + cpuSeconds(p), 0);

interface Writer {
  store: PersistStore;
  pids: number[];
  close(): Promise<void>;
}

async function writer(url: string, name: string): Promise<Writer> {
  // Two persist pipelines and one status loop, a connection each.
  const { pool, pids } = await backendPool(url, name, 3);
  return { store: new PersistStore(pool), pids, close: () => pool.end() };
}

interface HotWindow {
  seconds: number;
  persisted: number;
  statuses: number;
  /** CPU seconds of the writer's Postgres backends, and of this process, during the window. */
  backendCpuS: number;
  nodeCpuS: number;
}

/**
 * The hot path for `seconds`: two persistBatch loops (flat out, or paced to `rate` msg/s together) and a
 * status loop completing what they persisted. Latencies go to `timers`.
 */
async function hotPath(
  w: Writer,
  seconds: number,
  timers: Record<Op, OpTimer>,
  opts: { rate?: number; label: string; stop?: () => boolean },
): Promise<HotWindow> {
  const end = Date.now() + seconds * 1000;
  const live = () => Date.now() < end && !opts.stop?.();
  const toComplete: string[][] = [];
  let persisted = 0;
  let statuses = 0;
  let persisting = 2;
  const persistLoop = async () => {
    const t0 = Date.now();
    let sent = 0;
    try {
      while (live()) {
        const rows = newRows(BATCH);
        const { inserted } = await timers.persist_batch.time(() =>
          w.store.persistBatch(rows, [
            { group: 'bench', topic: 'fleet:{ingest}:0', offset: rows[rows.length - 1]!.streamId },
          ]),
        );
        persisted += inserted.length;
        toComplete.push(inserted);
        sent += rows.length;
        if (opts.rate) {
          const due = t0 + (sent / (opts.rate / 2)) * 1000;
          if (due > Date.now()) await sleep(due - Date.now());
        }
      }
    } finally {
      persisting--;
    }
  };
  // The status path: worker outcomes (COMPLETED, first attempt) for the ids persisted, batch by batch.
  const statusLoop = async () => {
    while (live() || (persisting > 0 && toComplete.length > 0)) {
      const ids = toComplete.shift();
      if (!ids) {
        if (persisting === 0) return;
        await sleep(2);
        continue;
      }
      if (!live()) continue; // outcomes after the window are neither applied nor counted
      statuses += await timers.apply_statuses.time(() =>
        w.store.applyStatuses(ids.map((id) => ({ id, status: MessageStatus.COMPLETED, attempt: 0 }))),
      );
    }
  };
  // What every persister does each second: ANALYZE the current partition once it holds 4 MB while its
  // statistics say less (sql/log_analyze_young.sql), so the cached plans are not the empty partition's.
  const youngCheck = setInterval(() => void w.store.analyzeYoungPartition().catch(() => {}), 1000);
  const cpu0 = backendsCpu(w.pids);
  const node0 = process.cpuUsage();
  const t0 = Date.now();
  const ticker = setInterval(() => {
    const s = (Date.now() - t0) / 1000;
    progress(
      `  ${opts.label}: ${fmt(persisted / s)} persisted/s, ${fmt(statuses / s)} statuses/s, ${opts.stop ? `${Math.round(s)}s so far` : `${Math.max(0, Math.ceil((end - Date.now()) / 1000))}s left`}`,
    );
  }, 3000);
  try {
    await Promise.all([persistLoop(), persistLoop(), statusLoop()]);
  } finally {
    clearInterval(ticker);
    clearInterval(youngCheck);
  }
  const elapsed = (Date.now() - t0) / 1000;
  const node = process.cpuUsage(node0);
  return {
    seconds: elapsed,
    persisted,
    statuses,
    backendCpuS: backendsCpu(w.pids) - cpu0,
    nodeCpuS: (node.user + node.system) / 1e6,
  };
}

/** The operator's and the persister's other statements, one every 200 ms in turn, until `until()`. */
async function probeOps(
  store: PersistStore,
  timers: Record<Op, OpTimer>,
  until: () => boolean,
): Promise<void> {
  const run: Record<(typeof PROBE_OPS)[number], () => Promise<unknown>> = {
    count_pending: () => timers.count_pending.time(() => store.countPending()),
    list_dead: () => timers.list_dead.time(() => store.listDead({ limit: 100 })),
    count_dead: () => timers.count_dead.time(() => store.countDead({ bound: DEAD_COUNT_BOUND })),
    sweep_stale: () => timers.sweep_stale.time(() => store.sweepStale(SWEEP_AGE_MS, SWEEP_PAGE)),
    read_from: async () => {
      const last = BigInt((await store.pool.query('SELECT max(seq) AS s FROM messages')).rows[0].s ?? 0);
      await timers.read_from.time(() => store.readFrom(last > 2000n ? last - 2000n : 0n, 500));
    },
  };
  for (let k = 0; !until(); k++) {
    const t = Date.now();
    await run[PROBE_OPS[k % PROBE_OPS.length]!]();
    const wait = 200 - (Date.now() - t);
    if (wait > 0) await sleep(wait);
  }
}

interface DbRun {
  name: 'empty' | 'big';
  url: string;
  timers: Record<Op, OpTimer>;
  windows: HotWindow[];
}

const newTimers = () => Object.fromEntries(OPS.map((op) => [op, new OpTimer()])) as Record<Op, OpTimer>;

async function measureRound(db: DbRun, round: number): Promise<void> {
  const w = await writer(db.url, `pgscale-hot-${db.name}`);
  const probePool = createPool(
    db.url,
    { min_connections: 0, max_connections: 1, idle_timeout_s: 0 },
    { applicationName: 'pgscale-probe' },
  );
  let running = true;
  try {
    const [win] = await Promise.all([
      hotPath(w, PHASE_S, db.timers, { label: `round ${round} ${db.name}` }).finally(() => {
        running = false;
      }),
      probeOps(new PersistStore(probePool), db.timers, () => !running),
    ]);
    db.windows.push(win);
  } finally {
    await probePool.end();
    await w.close();
  }
}

interface HotSummary {
  persistPerS: number;
  statusesPerS: number;
  /** Hot-path Postgres backends' CPU per message (persist + status), µs. */
  backendUsPerMsg: number;
  nodeUsPerMsg: number;
  ops: Record<Op, OpLatency>;
}

function summarize(db: DbRun): HotSummary {
  const s = db.windows.reduce((a, w) => a + w.seconds, 0);
  const persisted = db.windows.reduce((a, w) => a + w.persisted, 0);
  return {
    persistPerS: Math.round(persisted / s),
    statusesPerS: Math.round(db.windows.reduce((a, w) => a + w.statuses, 0) / s),
    backendUsPerMsg: round((db.windows.reduce((a, w) => a + w.backendCpuS, 0) / persisted) * 1e6, 1),
    nodeUsPerMsg: round((db.windows.reduce((a, w) => a + w.nodeCpuS, 0) / persisted) * 1e6, 1),
    ops: Object.fromEntries(OPS.map((op) => [op, db.timers[op].summary()])) as Record<Op, OpLatency>,
  };
}

// ---------------------------------------------------------------------------------------------------
// Retention: the store's maintenance dropping the oldest day's partition (rows not COMPLETED carried
// forward, old DEAD rows deleted).
// ---------------------------------------------------------------------------------------------------

interface RetentionRun {
  /** Rows of the dropped partitions (pg_class estimate after VACUUM ANALYZE) less those carried, plus DEAD rows deleted. */
  rowsRemoved: number;
  partitionsDropped: number;
  seconds: number;
  /** CPU seconds of the backend that ran it. */
  cpuS: number;
}

/** Removes the grown rows created more than 6 of the span's 7 days ago (the oldest seventh: one partition). */
async function retention(url: string, grown: GrowReport): Promise<RetentionRun> {
  const { pool, pids } = await backendPool(url, 'pgscale-retention', 1);
  try {
    // The first day's partition was closed at startMs + SPAN_MS / DAYS: a max age a minute short of its
    // age drops it and keeps the next day's.
    const maxAgeS = (Date.now() - (grown.startMs + SPAN_MS / DAYS)) / 1000 - 60;
    const cpu0 = backendsCpu(pids);
    const t0 = Date.now();
    const r = await new PersistStore(pool).maintainLog({
      partitionIntervalS: 365 * 86_400, // no roll here: retention only
      completedMaxAgeS: maxAgeS,
      deadMaxAgeS: maxAgeS,
      batch: RETENTION_BATCH,
    });
    if (!r.ran) throw new Error('retention did not run (maintenance lock held)');
    const rowsRemoved = r.dropped.reduce((n, d) => n + d.rows - d.carried, 0) + r.deadDeleted;
    return {
      rowsRemoved,
      partitionsDropped: r.dropped.length,
      seconds: (Date.now() - t0) / 1000,
      cpuS: backendsCpu(pids) - cpu0,
    };
  } finally {
    await pool.end();
  }
}

interface RetentionReport extends RetentionRun {
  rate: number;
  base: HotWindow;
  during: HotWindow;
}

/**
 * The writer at `rate` msg/s without retention for PHASE_S, then with retention() running beside it until
 * retention is done (the writer's own window ends with it).
 */
async function retentionCost(url: string, grown: GrowReport, rate: number): Promise<RetentionReport> {
  const w = await writer(url, 'pgscale-hot-retention');
  const timers = newTimers();
  try {
    const base = await hotPath(w, PHASE_S, timers, { rate, label: `writer at ${fmt(rate)}/s, no retention` });
    let ret: RetentionRun | undefined;
    let retErr: unknown;
    const retDone = retention(url, grown).then(
      (r) => {
        ret = r;
      },
      (err) => {
        retErr = err;
      },
    );
    // The writer's window ends when retention does, and lasts PHASE_S at least (dropping a partition takes
    // milliseconds: a window that short would say nothing about the writer's CPU).
    const startedAt = Date.now();
    const during = await hotPath(w, 86_400, timers, {
      rate,
      label: `writer at ${fmt(rate)}/s while retention runs`,
      stop: () => (ret !== undefined || retErr !== undefined) && Date.now() - startedAt >= PHASE_S * 1000,
    });
    await retDone;
    if (retErr) throw retErr;
    return { ...ret!, rate, base, during };
  } finally {
    await w.close();
  }
}

// ---------------------------------------------------------------------------------------------------

const server = process.env.FLEET_BENCH_POSTGRES_URL ?? process.env.FLEET_DATABASE_URL ?? LOCAL_POSTGRES_URL;
const tag = randomBytes(4).toString('hex');
const names = { empty: `fleet_bench_pgscale_empty_${tag}`, big: `fleet_bench_pgscale_big_${tag}` };
let cleaning: Promise<void> | undefined;
let interrupted = false;
/** Drops both databases (once; FORCE ends their sessions). */
function cleanup(): Promise<void> {
  cleaning ??= Promise.all(
    Object.values(names).map((n) =>
      dropDatabase(server, n).catch((err) => progress(`  could not drop ${n}: ${(err as Error).message}`)),
    ),
  ).then(() => {});
  return cleaning;
}
function onSignals(): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      interrupted = true;
      progress(`pg-scale: ${sig}; dropping the bench databases`);
      void cleanup().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    });
}

async function main(): Promise<void> {
  console.log(
    `pg-scale bench: ${fmt(ROWS)} rows, ${ROUNDS} rounds x ${PHASE_S}s per database, batch ${BATCH}, envelope ${ENVELOPE.length} B; ${machine().text}`,
  );
  const dbs: Record<'empty' | 'big', DbRun> = {
    empty: {
      name: 'empty',
      url: await createDatabase(server, names.empty),
      timers: newTimers(),
      windows: [],
    },
    big: { name: 'big', url: await createDatabase(server, names.big), timers: newTimers(), windows: [] },
  };
  const pgVersion = await (async () => {
    const c = await connect(dbs.empty.url);
    const v = (await c.query('SHOW server_version')).rows[0].server_version as string;
    const sb = (await c.query('SHOW shared_buffers')).rows[0].shared_buffers as string;
    await c.end();
    return `${v}, shared_buffers ${sb}`;
  })();
  await migrate(dbs.empty.url);
  await migrate(dbs.big.url);
  // ~1.2 KiB per grown row on disk (measured): ~470-byte rows at the table's fillfactor 50, four indexes.
  progress(
    `  the big table will take ~${((ROWS * 1230) / 2 ** 30).toFixed(1)} GiB of disk on the Postgres server`,
  );
  progress(
    `  growing ${names.big} to ${fmt(ROWS)} rows over ${GROW_CONNS} connections, ${fmt(GROW_CHUNK)} per chunk ...`,
  );
  const grown = await growMessages(dbs.big.url, ROWS, { leaveLastOpen: OPEN_DAY });
  // The empty database is not analyzed: its partitions stay as a live fleet's new ones are (see growMessages).

  // Alternate the order (empty, big, big, empty, ...) so neither database always runs first.
  for (let r = 1; r <= ROUNDS; r++) {
    const order = r % 2 ? (['empty', 'big'] as const) : (['big', 'empty'] as const);
    for (const name of order) await measureRound(dbs[name], r);
  }
  const empty = summarize(dbs.empty);
  const big = summarize(dbs.big);

  const rate = Math.round(env('BENCH_RETENTION_RATE', Math.round(big.persistPerS / 2 / 1000) * 1000 || 1000));
  progress(
    `  retention: maintainLog drops the oldest day's partition while a writer persists at ${fmt(rate)} msg/s ...`,
  );
  const ret = await retentionCost(dbs.big.url, grown, rate);
  const baseUs = (ret.base.backendCpuS / ret.base.persisted) * 1e6;
  const duringUs = ret.during.persisted > 0 ? (ret.during.backendCpuS / ret.during.persisted) * 1e6 : 0;
  const writerCpuCostPct = round((duringUs / baseUs - 1) * 100, 1);
  const retentionRowsPerS = Math.round(ret.rowsRemoved / ret.seconds);
  // In steady state retention removes what the writer inserted: its CPU per row against the writer's per
  // message is what it costs the writer's share of the machine.
  const retentionUsPerRow = (ret.cpuS / Math.max(ret.rowsRemoved, 1)) * 1e6;
  const retentionPctOfWriter = round((retentionUsPerRow / baseUs) * 100, 1);

  console.log(`\n${machine().text}, postgres ${pgVersion}`);
  console.log(
    `big table: ${fmt(ROWS)} rows grown in ${secs(grown.growS)} (${fmt(grown.rowsPerS)} rows/s), VACUUM ANALYZE ${secs(grown.vacuumS)}, ${(grown.sizeBytes / 2 ** 30).toFixed(2)} GiB with indexes`,
  );
  const ratio = (e: number, b: number) => (e > 0 ? round(b / e) : 0);
  console.table([
    {
      metric: 'persisted msg/s',
      empty: empty.persistPerS,
      big: big.persistPerS,
      ratio: ratio(empty.persistPerS, big.persistPerS),
    },
    {
      metric: 'statuses/s',
      empty: empty.statusesPerS,
      big: big.statusesPerS,
      ratio: ratio(empty.statusesPerS, big.statusesPerS),
    },
    {
      metric: 'Postgres CPU µs/msg (hot path)',
      empty: empty.backendUsPerMsg,
      big: big.backendUsPerMsg,
      ratio: ratio(empty.backendUsPerMsg, big.backendUsPerMsg),
    },
    ...OPS.map((op) => ({
      metric: `${op} p95 ms (p50 / p99 / n big: ${big.ops[op].p50_ms} / ${big.ops[op].p99_ms} / ${big.ops[op].n})`,
      empty: empty.ops[op].p95_ms,
      big: big.ops[op].p95_ms,
      ratio: ratio(empty.ops[op].p95_ms, big.ops[op].p95_ms),
    })),
  ]);
  console.table([
    {
      case: `writer at ${fmt(rate)}/s, no retention`,
      'msgs/s': Math.round(ret.base.persisted / ret.base.seconds),
      'writer PG CPU µs/msg': round(baseUs, 1),
      s: round(ret.base.seconds, 1),
    },
    {
      case: 'same writer while retention runs',
      'msgs/s': Math.round(ret.during.persisted / Math.max(ret.during.seconds, 1e-9)),
      'writer PG CPU µs/msg': round(duringUs, 1),
      s: round(ret.during.seconds, 1),
    },
  ]);
  console.log(
    `retention: ${fmt(ret.rowsRemoved)} rows removed in ${secs(ret.seconds)} (${fmt(retentionRowsPerS)} rows/s, ${round(retentionUsPerRow, 1)} µs of backend CPU per row = ${retentionPctOfWriter}% of the writer's ${round(baseUs, 1)} µs per message); the writer's CPU per message ${writerCpuCostPct >= 0 ? '+' : ''}${writerCpuCostPct}% while it runs (target < 5%)`,
  );
  const worstBig = Math.max(...OPS.map((op) => big.ops[op].p95_ms));
  console.log(
    `pg-scale: persist ratio big/empty ${ratio(empty.persistPerS, big.persistPerS)} (target >= 0.8), CPU ratio ${ratio(empty.backendUsPerMsg, big.backendUsPerMsg)}, worst op p95 on big ${worstBig} ms`,
  );
  console.log(
    JSON.stringify({
      bench: 'pg-scale',
      rows: ROWS,
      persist_per_s_empty: empty.persistPerS,
      persist_per_s_big: big.persistPerS,
      ratio: ratio(empty.persistPerS, big.persistPerS),
      retention_rows_per_s: retentionRowsPerS,
      worst_op_p95_ms_big: worstBig,
      retention_writer_cpu_cost_pct: writerCpuCostPct,
      retention_cpu_pct_of_writer: retentionPctOfWriter,
      statuses_per_s_empty: empty.statusesPerS,
      statuses_per_s_big: big.statusesPerS,
      pg_cpu_us_per_msg_empty: empty.backendUsPerMsg,
      pg_cpu_us_per_msg_big: big.backendUsPerMsg,
      cpu_ratio: ratio(empty.backendUsPerMsg, big.backendUsPerMsg),
      ops_empty: empty.ops,
      ops_big: big.ops,
      retention: {
        rows_removed: ret.rowsRemoved,
        seconds: round(ret.seconds, 1),
        backend_cpu_us_per_row: round(retentionUsPerRow, 1),
        cpu_pct_of_writer: retentionPctOfWriter,
        writer_rate: rate,
        writer_per_s_without: Math.round(ret.base.persisted / ret.base.seconds),
        writer_per_s_during: Math.round(ret.during.persisted / Math.max(ret.during.seconds, 1e-9)),
        writer_cpu_us_per_msg_without: round(baseUs, 1),
        writer_cpu_us_per_msg_during: round(duringUs, 1),
        writer_cpu_cost_pct: writerCpuCostPct,
      },
      grow: {
        rows_per_s: grown.rowsPerS,
        seconds: round(grown.growS, 1),
        vacuum_s: round(grown.vacuumS, 1),
        size_gib: round(grown.sizeBytes / 2 ** 30),
      },
      phase_s: PHASE_S,
      rounds: ROUNDS,
      batch: BATCH,
      machine: { ...machine().json, postgres: pgVersion },
    }),
  );
}

// Run directly (npm run bench -- pg-scale); imported, it only lends growMessages (e.g. to grow a database
// by hand for EXPLAIN).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  onSignals();
  main()
    .catch((err) => {
      if (interrupted) return; // the sessions the cleanup ended
      console.error(`pg-scale bench failed: ${(err as Error).stack ?? err}`);
      process.exitCode = 1;
    })
    .finally(async () => {
      await cleanup();
      process.exit(process.exitCode ?? 0);
    });
}
