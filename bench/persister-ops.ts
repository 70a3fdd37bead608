/**
 * Postgres queue operations: P50/P95/P99 latency of each queue operation (@fleet/store MessageQueue, and PersistStore.persistBatch) while rows are being
 * persisted at a target rate (default 50K msg/s), beside a baseline measured in the same run: a raw
 * multi-row INSERT of the same rows with node-postgres (no idempotency, no offsets), rows/s.
 *
 * Run directly (`npm run bench -- persister-ops`) it creates and drops its own database. bench/persister.ts
 * calls measureQueueOps() for the operation figures. Envelopes are one pre-encoded buffer per run with a
 * unique id per row: the database stores and indexes the same bytes either way, and the bench process
 * keeps its CPU for driving Postgres (the machine has 2 cores).
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { encodeEnvelope } from '@fleet/protocol';
import { createDatabase, dropDatabase, LOCAL_POSTGRES_URL } from '@fleet/services';
import { MessageQueue, migrate, type NewMessage, PersistStore } from '@fleet/store';
import pg from 'pg';
import { machine } from './lib/machine.js';
import { type OpLatency, OpTimer } from './lib/op-timer.js';

export const QUEUE_OPS = [
  'enqueue',
  'persist_batch',
  'dequeue_batch',
  'mark_completed',
  'mark_failed',
  'reprocess_failed',
  'save_offset',
  'load_offset',
] as const;
export type QueueOp = (typeof QUEUE_OPS)[number];
export interface QueueOpsOptions {
  durationS: number;
  /** Rows per persistBatch and per dequeueBatch / mark call. */
  batch: number;
  /** Rows/s persisted in the background while the operations are timed (0 = as fast as it goes). Default 50,000. */
  persistRate?: number;
  /** Progress lines go here (default: stderr). */
  progress?: (line: string) => void;
}

export interface QueueOpsReport {
  ops: Record<QueueOp, OpLatency>;
  /** Rows/s actually persisted during the timed window. */
  persistRowsPerS: number;
  targetRate: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Rows with fresh ids sharing one encoded envelope. */
function rowFactory(tag: string): (n: number) => NewMessage[] {
  const headers = { 'content-type': 'application/json', tenant: 'bench' };
  const envelope = encodeEnvelope({
    id: `${tag}-template`,
    topic: 'bench.orders.created',
    type: 'event',
    priority: 1,
    timestamp: Date.now(),
    headers,
    payload: randomBytes(128),
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  });
  let next = 0;
  return (n) =>
    Array.from({ length: n }, () => {
      const i = next++;
      return {
        id: `${tag}-${i}`,
        streamId: `${1_764_201_600_000 + i}-0`,
        envelope,
        topic: i % 2 ? 'bench.orders.created' : 'bench.orders.paid',
        type: 'event',
        priority: 1,
        timestamp: 1_764_201_600_000 + i,
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        headers,
      };
    });
}

/** Operation latencies while persisting at `persistRate` (see QueueOpsReport). Migrates the database if needed. */
export async function measureQueueOpsReport(
  databaseUrl: string,
  opts: QueueOpsOptions,
): Promise<QueueOpsReport> {
  const progress = opts.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const targetRate = opts.persistRate ?? 50_000;
  await migrate(databaseUrl);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 8 });
  pool.on('error', () => {});
  // The hot ingest statement from the persister's store, the design's operations from the queue API.
  const store = new PersistStore(pool);
  const q = new MessageQueue(pool);
  const timers = Object.fromEntries(QUEUE_OPS.map((op) => [op, new OpTimer(60_000_000)])) as Record<
    QueueOp,
    OpTimer
  >;
  const rows = rowFactory(`ops${randomBytes(3).toString('hex')}`);
  const end = Date.now() + opts.durationS * 1000;
  let persisted = 0;
  let failedIds = 0;

  // Two ingest loops (two persisters' worth of connections), paced to the target rate together.
  const persistLoop = async (share: number) => {
    const t0 = Date.now();
    let sent = 0;
    while (Date.now() < end) {
      const batch = rows(opts.batch);
      const { inserted } = await timers.persist_batch.time(() =>
        store.persistBatch(batch, [
          { group: 'bench', topic: 'fleet:{ingest}:0', offset: batch[batch.length - 1]!.streamId },
        ]),
      );
      persisted += inserted.length;
      sent += batch.length;
      if (targetRate > 0) {
        const due = t0 + (sent / (targetRate * share)) * 1000;
        if (due > Date.now()) await sleep(due - Date.now());
      }
    }
  };
  // A consumer: claims work, completes most of it, fails some (those feed reprocess_failed).
  const workLoop = async () => {
    while (Date.now() < end) {
      const got = await timers.dequeue_batch.time(() => q.dequeueBatch(opts.batch));
      if (got.length === 0) {
        await sleep(5);
        continue;
      }
      const cut = Math.ceil(got.length * 0.9);
      await timers.mark_completed.time(() => q.markCompleted(got.slice(0, cut).map((m) => m.id)));
      const fail = got.slice(cut).map((m) => m.id);
      if (fail.length > 0) {
        await timers.mark_failed.time(() => q.markFailed(fail, 'bench failure'));
        failedIds += fail.length;
      }
    }
  };
  // Latency probes, paced so they measure the operations rather than add a load of their own.
  const probe = async (everyMs: number, fn: () => Promise<unknown>) => {
    while (Date.now() < end) {
      const t = Date.now();
      await fn();
      const wait = everyMs - (Date.now() - t);
      if (wait > 0) await sleep(wait);
    }
  };
  let offsetN = 0;
  const ticker = setInterval(() => {
    const left = Math.max(0, Math.ceil((end - Date.now()) / 1000));
    progress(
      `  persister-ops: ${persisted} persisted, ${timers.dequeue_batch.h.totalCount} dequeues, ${failedIds} failed, ${left}s left`,
    );
  }, 2000);
  const t0 = Date.now();
  try {
    await Promise.all([
      persistLoop(0.5),
      persistLoop(0.5),
      workLoop(),
      probe(10, () => timers.enqueue.time(() => q.enqueue(rows(1)[0]!))),
      probe(200, () => timers.reprocess_failed.time(() => q.reprocessFailed(3, opts.batch * 10))),
      probe(10, async () => {
        const key = `t${offsetN++ % 16}`;
        await timers.save_offset.time(() => q.saveOffset('bench-replay', key, String(offsetN)));
        await timers.load_offset.time(() => q.loadOffset('bench-replay', key));
      }),
    ]);
  } finally {
    clearInterval(ticker);
    await pool.end();
  }
  const elapsedS = (Date.now() - t0) / 1000;
  const ops = Object.fromEntries(QUEUE_OPS.map((op) => [op, timers[op].summary()])) as Record<
    QueueOp,
    OpLatency
  >;
  return { ops, persistRowsPerS: Math.round(persisted / elapsedS), targetRate };
}

/** P50/P95/P99 (ms) and count of each queue operation while persisting at 50K msg/s (the contract form). */
export async function measureQueueOps(
  databaseUrl: string,
  opts: { durationS: number; batch: number },
): Promise<Record<QueueOp, OpLatency>> {
  return (await measureQueueOpsReport(databaseUrl, opts)).ops;
}

/** Rows/s of `writers` concurrent writers writing `rows` rows in chunks of `batch` with `write`. */
async function throughput(
  rows: number,
  batch: number,
  writers: number,
  write: (chunk: NewMessage[], writer: number) => Promise<unknown>,
): Promise<number> {
  const make = rowFactory(`tp${randomBytes(3).toString('hex')}`);
  const chunks = Array.from({ length: Math.ceil(rows / batch) }, () => make(batch));
  const t0 = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = next++; i < chunks.length; i = next++) await write(chunks[i]!, w);
    }),
  );
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return Math.round((chunks.length * batch) / s);
}

const RAW_COLUMNS = [
  'id',
  'stream_id',
  'topic',
  'type',
  'priority',
  'sent_at',
  'envelope',
  'headers',
  'traceparent',
  'reply_to',
];

/**
 * Baseline: the same rows written by a plain multi-row INSERT ... VALUES (parameterized, `batch` rows per
 * statement, 2 connections) into the same table, without idempotency or offsets. Rows/s.
 */
export async function measureRawInsert(
  databaseUrl: string,
  rows: number,
  batch = 1000,
  writers = 2,
): Promise<number> {
  const sql = (n: number) =>
    `INSERT INTO messages (${RAW_COLUMNS.join(', ')}) VALUES ${Array.from(
      { length: n },
      (_, r) => `(${RAW_COLUMNS.map((_c, k) => `$${r * RAW_COLUMNS.length + k + 1}`).join(', ')})`,
    ).join(', ')}`;
  await migrate(databaseUrl);
  const clients = await Promise.all(
    Array.from({ length: writers }, async () => {
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      return c;
    }),
  );
  try {
    return await throughput(rows, batch, writers, (chunk, w) =>
      clients[w]!.query(
        sql(chunk.length),
        chunk.flatMap((m) => [
          m.id,
          m.streamId,
          m.topic,
          m.type,
          m.priority,
          new Date(m.timestamp),
          m.envelope,
          m.headers,
          m.traceparent ?? null,
          null,
        ]),
      ),
    );
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

/** The same rows through PersistStore.persistBatch (idempotent insert + offset, one statement), rows/s. */
export async function measurePersistBatch(
  databaseUrl: string,
  rows: number,
  batch = 1000,
  writers = 2,
): Promise<number> {
  await migrate(databaseUrl);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: writers });
  const q = new PersistStore(pool);
  try {
    return await throughput(rows, batch, writers, (chunk) =>
      q.persistBatch(chunk, [{ group: 'bench', topic: 'tp', offset: chunk[chunk.length - 1]!.streamId }]),
    );
  } finally {
    await pool.end();
  }
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const durationS = Number(process.env.BENCH_DURATION_S ?? argValue('--duration-s') ?? 40);
  const batch = Number(process.env.BENCH_BATCH ?? 500);
  const rate = Number(process.env.BENCH_PERSIST_RATE ?? 50_000);
  const server = process.env.FLEET_BENCH_POSTGRES_URL ?? process.env.FLEET_DATABASE_URL ?? LOCAL_POSTGRES_URL;
  const dbName = `fleet_bench_ops_${randomBytes(4).toString('hex')}`;
  console.log(`persister-ops bench: ${durationS}s, batch ${batch}; ${machine().text}`);
  const url = await createDatabase(server, dbName);
  try {
    // A fifth of the time for the two throughput runs, the rest split between the two timed windows.
    const tpRows = Math.max(20_000, Math.min(300_000, Math.round(durationS * 2_500)));
    console.log(`  baseline: raw multi-row INSERT of ${tpRows} rows ...`);
    const baseline = await measureRawInsert(url, tpRows, 1000);
    console.log(`  persistBatch of ${tpRows} rows ...`);
    const persist = await measurePersistBatch(url, tpRows, 1000);
    const windowS = Math.max(3, Math.round((durationS * 0.8) / 2));
    console.log(`  queue operations for ${windowS}s while persisting at the target ${rate} msg/s ...`);
    const atTarget = await measureQueueOpsReport(url, { durationS: windowS, batch, persistRate: rate });
    const halfRate = Math.max(1000, Math.round(persist / 2 / 1000) * 1000);
    console.log(
      `  queue operations for ${windowS}s while persisting at ${halfRate} msg/s (half the measured capacity) ...`,
    );
    const atHalf = await measureQueueOpsReport(url, { durationS: windowS, batch, persistRate: halfRate });

    console.log(`\n${machine().text}`);
    console.table([
      { case: 'raw multi-row INSERT (baseline), 2 conns, 1000/stmt', rows_per_s: baseline, ratio: 1 },
      {
        case: 'persistBatch (idempotent + offset), 2 conns, 1000/call',
        rows_per_s: persist,
        ratio: round(persist / baseline),
      },
      {
        case: `persisted in window 1 (target ${rate}/s)`,
        rows_per_s: atTarget.persistRowsPerS,
        ratio: round(atTarget.persistRowsPerS / baseline),
      },
      {
        case: `persisted in window 2 (target ${halfRate}/s)`,
        rows_per_s: atHalf.persistRowsPerS,
        ratio: round(atHalf.persistRowsPerS / baseline),
      },
    ]);
    console.table(
      QUEUE_OPS.map((op) => ({
        op,
        [`p50_ms@${rate}`]: atTarget.ops[op].p50_ms,
        [`p95_ms@${rate}`]: atTarget.ops[op].p95_ms,
        [`p99_ms@${rate}`]: atTarget.ops[op].p99_ms,
        [`p50_ms@${halfRate}`]: atHalf.ops[op].p50_ms,
        [`p95_ms@${halfRate}`]: atHalf.ops[op].p95_ms,
        [`p99_ms@${halfRate}`]: atHalf.ops[op].p99_ms,
        n: atTarget.ops[op].n + atHalf.ops[op].n,
        'p95<50ms': atTarget.ops[op].p95_ms < 50 && atHalf.ops[op].p95_ms < 50 ? 'yes' : 'NO',
      })),
    );
    const worst = (r: QueueOpsReport) => Math.max(...QUEUE_OPS.map((op) => r.ops[op].p95_ms));
    console.log(
      `persister-ops: worst_p95_ms=${worst(atTarget)} at ${atTarget.persistRowsPerS}/s persisted, worst_p95_ms=${worst(atHalf)} at ${atHalf.persistRowsPerS}/s; persist_rows_per_s=${persist} baseline_rows_per_s=${baseline}`,
    );
    console.log(
      JSON.stringify({
        bench: 'persister-ops',
        ops: atTarget.ops,
        baseline_rows_per_s: baseline,
        persist_rows_per_s: persist,
        ratio: round(persist / baseline),
        target_rate: rate,
        persisted_under_load_per_s: atTarget.persistRowsPerS,
        worst_p95_ms: worst(atTarget),
        half_capacity: {
          rate: halfRate,
          persisted_per_s: atHalf.persistRowsPerS,
          worst_p95_ms: worst(atHalf),
          ops: atHalf.ops,
        },
        batch,
        machine: machine().json,
      }),
    );
  } finally {
    await dropDatabase(server, dbName);
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(`persister-ops bench failed: ${(err as Error).message}`);
    process.exit(1);
  });
}
