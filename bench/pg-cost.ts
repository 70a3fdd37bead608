/**
 * Postgres CPU per message of the hot path (persistBatch, then applyStatuses COMPLETED), split by statement, on the schema as migrated (the baseline) and on variants of it that each leave one structure out (or put one back); same run, ratio to the baseline.
 *
 * What each structure of the message log costs the database, so a change to the schema can be judged by
 * what it would save before it is made. Every variant is a database of its own in one private PostgreSQL
 * cluster (@fleet/services startPrivatePostgres: initdb's defaults plus autovacuum on and fsync on, so the
 * figures do not depend on how the shared server is configured), migrated with `migrate()` of @fleet/store,
 * then changed by DDL:
 *   - baseline: as migrated;
 *   - no messages_open (status, updated_at): that index dropped (what the sweep and the counts read);
 *   - no messages (topic, seq): that index dropped (replay by topic, dead letters by topic);
 *   - two partitions ahead attached: the two partitions created ahead of the current one attached, as
 *     before the ahead-partitions-detached migration (a lookup by id probes every attached partition from
 *     the duplicate window's start, these empty ones too);
 *   - rolled: the log rolled once, its previous partition holding BENCH_PREVIOUS_ROWS rows (default 1M,
 *     grown by pg-scale's growMessages: UUIDv7-layout ids older than the bench's), as in a fleet running
 *     past its first partition interval: that partition is in the duplicate window;
 *   - rolled, previous partition probed for every id: the same with its greatest id unknown
 *     (message_partitions.max_id NULL), as before the window-skips-previous migration;
 *   - floor: not the fleet's schema but the least a durable, idempotent store of the same messages costs
 *     this server (lib/floor.ts), no status written. What is left of the baseline above it is the
 *     fleet's own (topics, headers, statuses, the open rows, partitions); pg-bytes splits the floor.
 * The variants run interleaved, one slice each per round (`BENCH_SLICE` batches of `BENCH_BATCH` messages,
 * default 20 x 500, ids of @fleet/protocol newMessageId, `BENCH_SIZE`-byte envelopes, default 100), their
 * order rotated each round, so drift on a shared machine hits them alike. The figure is the mean over
 * slices of the cluster's CPU (every postgres process: backends and background, from /proc) per message,
 * split into the time of the persist call and of the status call. Env: BENCH_DURATION_S (default 60).
 */
import { benchPayload } from '@fleet/client';
import { createDatabase, startPrivatePostgres } from '@fleet/services';
import { createPool, migrate, type NewMessage, PersistStore } from '@fleet/store';
import type pg from 'pg';
import { benchRows, FLOOR_TABLE, insertFloor } from './lib/floor.js';
import { interleave, meanOf } from './lib/interleave.js';
import { machine } from './lib/machine.js';
import { treeCpuSeconds } from './lib/proc-cpu.js';
import { growMessages } from './pg-scale.js';

const argValue = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const durationS = Number(argValue('--duration-s') ?? process.env.BENCH_DURATION_S ?? 60);
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
const SLICE = Number(process.env.BENCH_SLICE ?? 20);
const SIZE = Number(process.env.BENCH_SIZE ?? 100);

interface Variant {
  key: string;
  name: string;
  ddl: (db: pg.Pool, url: string) => Promise<void>;
  /** The variant's own write of a batch, instead of persistBatch; no status call follows it. */
  persist?: (db: pg.Pool, rows: NewMessage[]) => Promise<unknown>;
}
const PREVIOUS_ROWS = Number(process.env.BENCH_PREVIOUS_ROWS ?? 1_000_000);

const VARIANTS: Variant[] = [
  { key: 'baseline', name: 'baseline (as migrated)', ddl: async () => {} },
  {
    key: 'no_open_status_index',
    name: 'no messages_open (status, updated_at)',
    ddl: async (db) => void (await db.query('DROP INDEX messages_open_status_updated_at_idx')),
  },
  {
    key: 'no_topic_seq_index',
    name: 'no messages (topic, seq)',
    ddl: async (db) => void (await db.query('DROP INDEX messages_topic_seq_idx')),
  },
  {
    key: 'partitions_ahead_attached',
    name: 'two partitions ahead attached',
    ddl: async (db) => {
      const ahead = await db.query<{ n: number; lo: string; hi: string }>(
        'SELECT n, lo, hi FROM message_partitions WHERE opened_at IS NULL',
      );
      // Numbers from the catalog table only: n an integer, lo and hi bigints.
      for (const p of ahead.rows)
        await db.query(
          `ALTER TABLE messages ATTACH PARTITION messages_p${Number(p.n)} FOR VALUES FROM (${BigInt(p.lo)}) TO (${BigInt(p.hi)})`,
        );
    },
  },
  {
    key: 'rolled',
    name: 'rolled: a previous partition in the window',
    ddl: async (_db, url) => void (await growMessages(url, PREVIOUS_ROWS, { days: 1 })),
  },
  {
    key: 'rolled_probe_both',
    name: 'rolled, previous partition probed for every id',
    ddl: async (db, url) => {
      await growMessages(url, PREVIOUS_ROWS, { days: 1 });
      await db.query('UPDATE message_partitions SET max_id = NULL');
    },
  },
  {
    key: 'floor',
    name: 'floor: (id, envelope) and a unique id index only',
    ddl: async (db) => void (await db.query(FLOOR_TABLE('floor'))),
    persist: (db, rows) => insertFloor(db, 'floor', rows, SIZE),
  },
];

// Incompressible, as the e2e load's payload (Postgres compresses an envelope past ~2 KB).
const envelope = benchPayload(SIZE);

let server: Awaited<ReturnType<typeof startPrivatePostgres>>;
try {
  server = await startPrivatePostgres({ settings: { autovacuum: 'on', fsync: 'on' } });
} catch (err) {
  console.error(`pg-cost: ${(err as Error).message}`);
  process.exit(1);
}
const stopServer = () => server.dispose().finally(() => process.exit(130));
process.once('SIGINT', stopServer);
process.once('SIGTERM', stopServer);

const m0 = machine();
console.log(
  `pg-cost bench: ${VARIANTS.length} variants interleaved, slices of ${SLICE} x ${BATCH} messages, ${SIZE}-byte envelopes, ${durationS}s; ${m0.text}`,
);

const stores: { v: Variant; pool: pg.Pool; store: PersistStore }[] = [];
for (const v of VARIANTS) {
  const url = await createDatabase(server.url, `fleet_pgcost_${v.key}`);
  await migrate(url);
  const pool = createPool(url, { min_connections: 1, max_connections: 2, idle_timeout_s: 600 }, {});
  await v.ddl(pool, url);
  stores.push({ v, pool, store: new PersistStore(pool) });
}

async function batch({ v, pool, store }: (typeof stores)[number]): Promise<[number, number]> {
  const rs = benchRows(BATCH, envelope);
  const c0 = treeCpuSeconds(server.pid());
  if (v.persist) {
    await v.persist(pool, rs);
    return [treeCpuSeconds(server.pid()) - c0, 0];
  }
  await store.persistBatch(rs, [{ group: 'bench', topic: 'bench:ingest', offset: rs.at(-1)!.streamId }]);
  const c1 = treeCpuSeconds(server.pid());
  await store.applyStatuses(rs.map((r) => ({ id: r.id, status: 'COMPLETED', attempt: 0 })));
  return [c1 - c0, treeCpuSeconds(server.pid()) - c1];
}

// Warm-up: prepared statements, the first pages of every index.
for (const s of stores) for (let i = 0; i < 5; i++) await batch(s);

const { rounds: round, slices } = await interleave(stores, durationS, async (s) => {
  let persist = 0;
  let status = 0;
  for (let i = 0; i < SLICE; i++) {
    const [p, st] = await batch(s);
    persist += p;
    status += st;
  }
  // What the persister does every second (outside the figure): once the partition holds 4 MB its
  // statistics are taken, so the cached plans are not those of the nearly empty partition.
  await s.store.analyzeYoungPartition();
  const n = SLICE * BATCH;
  return { persist: (persist / n) * 1e6, status: (status / n) * 1e6 };
});

const r1 = (x: number) => Math.round(x * 10) / 10;
const figures = VARIANTS.map((v, i) => {
  const persist = meanOf(slices[i]!, (x) => x.persist);
  const status = meanOf(slices[i]!, (x) => x.status);
  return { v, persist, status, all: persist + status };
});
const base = figures[0]!;
console.log(`\n${machine().text}; ${round} rounds; Postgres CPU µs per message (mean over slices)`);
console.table(
  figures.map((f) => ({
    variant: f.v.name,
    persist: r1(f.persist),
    status: r1(f.status),
    all: r1(f.all),
    'ratio to baseline': Math.round((f.all / base.all) * 100) / 100,
    'saves µs': f === base ? '' : r1(base.all - f.all),
  })),
);

for (const s of stores) await s.pool.end();
await server.dispose();

console.log(
  JSON.stringify({
    bench: 'pg-cost',
    batch: BATCH,
    envelope_bytes: SIZE,
    rounds: round,
    baseline_us_per_msg: r1(base.all),
    baseline_persist_us: r1(base.persist),
    baseline_status_us: r1(base.status),
    variants: Object.fromEntries(
      figures
        .slice(1)
        .map((f) => [f.v.key, { us_per_msg: r1(f.all), ratio: Math.round((f.all / base.all) * 100) / 100 }]),
    ),
    machine: m0.json,
  }),
);
