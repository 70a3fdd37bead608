/**
 * Persister sustained load: an ingest stream pre-filled with N entries drained into Postgres + BullMQ (msg/s), beside a raw INSERT baseline and the queue-op latencies.
 *
 * The stream is pre-filled with pipelined XADDs (as the gateway writes them), then a persister (the real
 * startPersister, one process) is started and timed until every entry is committed to `messages`
 * (idempotent insert + offset in one statement), enqueued as BullMQ batch jobs and XACKed. Baseline in
 * the same run: node-postgres multi-row INSERT of the same number of rows (measureRawInsert). Queue-op
 * P50/P95/P99 come from measureQueueOps (bench/persister-ops.ts). Own database and Redis prefix, removed
 * at the end. Env: BENCH_DURATION_S (default 40, bounds the whole run), BENCH_N (entries, default 250000).
 */

import { randomBytes } from 'node:crypto';
import { messagingSystemSchema } from '@fleet/config';
import { FleetKeys, PERSISTER_GROUP } from '@fleet/protocol';
import { createRedis } from '@fleet/redis';
import { createDatabase, dropDatabase, LOCAL_POSTGRES_URL, LOCAL_REDIS_URL } from '@fleet/services';
import pg from 'pg';
import { silentLogger } from '../apps/persister/src/log.js';
import { startPersister } from '../apps/persister/src/persister.js';
import { cleanupRedisPrefix } from '../test/helpers/services.js';
import { machine } from './lib/machine.js';
import { prefillIngestStream } from './lib/prefill-stream.js';
import { measureQueueOps, measureRawInsert } from './persister-ops.js';

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const durationS = Number(process.env.BENCH_DURATION_S ?? argValue('--duration-s') ?? 40);
const N = Number(process.env.BENCH_N ?? 250_000);
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const progress = (line: string) => process.stderr.write(`${line}\n`);

const payload = randomBytes(128);
const benchEnvelope = (i: number) => ({
  id: `b-${i}`,
  topic: i % 2 ? 'bench.orders.created' : 'bench.orders.paid',
  type: 'event' as const,
  priority: 1,
  timestamp: Date.now(),
  headers: { tenant: 'bench' },
  payload,
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
});

async function main(): Promise<void> {
  const server = process.env.FLEET_BENCH_POSTGRES_URL ?? process.env.FLEET_DATABASE_URL ?? LOCAL_POSTGRES_URL;
  const redisUrl = process.env.FLEET_REDIS_URL ?? LOCAL_REDIS_URL;
  const tag = randomBytes(4).toString('hex');
  const dbName = `fleet_bench_persister_${tag}`;
  const prefix = `fleet-bench-persister-${tag}`;
  console.log(`persister bench: ${N} entries, budget ${durationS}s; ${machine().text}`);
  const url = await createDatabase(server, dbName);
  const redis = createRedis({ url: redisUrl, mode: 'standalone', nodes: [], nat_map: {} }, 'admin');
  try {
    const cfg = messagingSystemSchema.parse({
      redis: { url: redisUrl, key_prefix: prefix },
      database: { connection_string: url, pool: { max_connections: 4, min_connections: 1 } },
      streams: { read_count: 2_000, block_ms: 50 },
      queue: { batch_size: 100 },
      monitoring: { interval_ms: 60_000 },
      logging: { level: 'warn' },
    });
    const keys = new FleetKeys(prefix, 1);
    const stream = keys.ingestStream(0);

    let t = Date.now();
    await prefillIngestStream(redis, stream, N, benchEnvelope);
    progress(`  pre-filled ${N} entries in ${((Date.now() - t) / 1000).toFixed(1)}s`);

    const p = await startPersister(cfg, {
      logger: silentLogger,
      ops: false,
      consumerName: 'bench',
      maxWaitingJobs: 1_000_000,
      pipelines: Number(process.env.BENCH_PIPELINES ?? 2),
    });
    const counted = async () =>
      (await p.metrics.messagesPersisted.get()).values.reduce((a, v) => a + v.value, 0);
    const enqueuedCount = async () => (await p.metrics.messagesEnqueued.get()).values[0]?.value ?? 0;
    const pendingEntries = async () => (await redis.xpending(stream, PERSISTER_GROUP))[0] as number;
    t = Date.now();
    const deadline = t + Math.max(10, durationS * 0.5) * 1000;
    let last = 0;
    let lastAt = t;
    // Drained = every message committed AND enqueued AND every entry XACKed (what the header times).
    for (;;) {
      const done = await counted();
      if (done >= N && (await enqueuedCount()) >= N && (await pendingEntries()) === 0) break;
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
      if (Date.now() - lastAt >= 2_000) {
        progress(
          `  drained ${done}/${N} (${Math.round((done - last) / ((Date.now() - lastAt) / 1000))} msg/s)`,
        );
        last = done;
        lastAt = Date.now();
      }
    }
    const drainS = (Date.now() - t) / 1000;
    const persisted = await counted();
    const enqueued = await enqueuedCount();
    const pending = await pendingEntries();
    const persistSum =
      (await p.metrics.persistBatch.get()).values.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;
    const batchCount =
      (await p.metrics.persistBatch.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
    progress(
      `  ${batchCount} batches; ${persistSum.toFixed(2)}s of ${((Date.now() - t) / 1000).toFixed(2)}s spent in persistBatch (Postgres)`,
    );
    await p.close();
    const persistedPerS = Math.round(persisted / drainS);
    progress(
      `  drained ${persisted} in ${drainS.toFixed(2)}s; enqueued ${enqueued}; still pending ${pending}`,
    );

    progress(`  baseline: raw multi-row INSERT of ${N} rows (node-postgres, 2 conns, 1000/stmt) ...`);
    const baseline = await measureRawInsert(url, N, 1000, 2);
    const opsS = Math.max(5, Math.min(20, Math.round(durationS * 0.3)));
    progress(`  queue operations for ${opsS}s while persisting at 50K msg/s ...`);
    const ops = await measureQueueOps(url, { durationS: opsS, batch: 500 });

    const rows = await new pg.Client({ connectionString: url });
    await rows.connect();
    const inDb = Number(
      (await rows.query("SELECT count(*) AS n FROM messages WHERE id LIKE 'b-%'")).rows[0].n,
    );
    await rows.end();

    console.log(`\n${machine().text}`);
    console.table([
      {
        case: 'raw multi-row INSERT (baseline, no idempotency/offset/queue)',
        msgs_per_s: baseline,
        ratio: 1,
      },
      {
        case: 'persister: stream -> messages + offset + BullMQ jobs + XACK',
        msgs_per_s: persistedPerS,
        ratio: round(persistedPerS / baseline),
      },
    ]);
    console.table(
      Object.entries(ops).map(([op, l]) => ({
        op,
        ...l,
        p95_target_ms: 50,
        ok: l.p95_ms < 50 ? 'yes' : 'NO',
      })),
    );
    console.log(
      `persister: rows in messages ${inDb}/${N}, jobs carried ${enqueued} messages, target >= 50000 msg/s`,
    );
    console.log(
      JSON.stringify({
        bench: 'persister',
        persisted_per_s: persistedPerS,
        baseline_rows_per_s: baseline,
        ratio: round(persistedPerS / baseline),
        entries: N,
        drain_s: round(drainS),
        enqueued_messages: enqueued,
        ops: Object.fromEntries(
          Object.entries(ops).map(([op, l]) => [
            op,
            { p50_ms: l.p50_ms, p95_ms: l.p95_ms, p99_ms: l.p99_ms },
          ]),
        ),
        machine: machine().json,
      }),
    );
  } finally {
    // Every key of the run: its queue and streams are `{<prefix>:s<n>…}:…` (a MATCH on `<prefix>*` missed them).
    await cleanupRedisPrefix(prefix, redisUrl);
    redis.disconnect();
    await dropDatabase(server, dbName);
  }
}

main().catch((err) => {
  console.error(`persister bench failed: ${(err as Error).message}`);
  process.exit(1);
});
