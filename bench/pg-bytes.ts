/**
 * Postgres CPU per message of storing the envelope bytes alone (pg-cost's floor), split into user and kernel time, beside the floor's parts; same run, ratio to the floor.
 *
 * At 8 KB the fleet's hot path costs Postgres what the floor does (pg-cost), so this is where an 8 KB
 * message's Postgres time goes. Two private PostgreSQL clusters (@fleet/services startPrivatePostgres:
 * initdb's defaults plus autovacuum on and fsync on), one database each; the variants, each a table:
 *   - floor (the baseline): lib/floor.ts, as pg-cost's `floor`;
 *   - no compression: the envelope `STORAGE EXTERNAL` (lz4 is not even tried);
 *   - no WAL: the table `UNLOGGED`;
 *   - no id index: no primary key;
 *   - malloc kept: the floor in the second cluster, whose server runs with glibc's malloc told to keep its
 *     memory (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_, MALLOC_TOP_PAD_: docs/benchmarks.md, "8 KB:
 *     what storing the bytes costs Postgres"); nothing on a musl build.
 * The variants run interleaved, one slice each per round (`BENCH_SLICE` batches of `BENCH_BATCH` rows,
 * default 10 x 500, of `BENCH_SIZE` bytes, default 8192, incompressible), order rotated each round; the
 * figure is the mean over slices of the variant's cluster CPU (every postgres process, from /proc) per
 * message, user and system apart. Env: BENCH_DURATION_S (default 60).
 */
import { benchPayload } from '@fleet/client';
import { createDatabase, type PrivatePostgres, startPrivatePostgres } from '@fleet/services';
import { createPool } from '@fleet/store';
import type pg from 'pg';
import { benchRows, FLOOR_TABLE, insertFloor } from './lib/floor.js';
import { interleave, meanOf } from './lib/interleave.js';
import { machine } from './lib/machine.js';
import { treeCpuTimes } from './lib/proc-cpu.js';

const argValue = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const durationS = Number(argValue('--duration-s') ?? process.env.BENCH_DURATION_S ?? 60);
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
const SLICE = Number(process.env.BENCH_SLICE ?? 10);
const SIZE = Number(process.env.BENCH_SIZE ?? 8192);
const MALLOC_KEPT = {
  MALLOC_MMAP_THRESHOLD_: '33554432',
  MALLOC_TRIM_THRESHOLD_: '1073741824',
  MALLOC_TOP_PAD_: '67108864',
};

interface Variant {
  key: string;
  name: string;
  server: 'plain' | 'malloc_kept';
  ddl: string;
}
const VARIANTS: Variant[] = [
  { key: 'floor', name: 'floor (lz4, unique id)', server: 'plain', ddl: FLOOR_TABLE('floor') },
  {
    key: 'no_compression',
    name: 'no compression (STORAGE EXTERNAL)',
    server: 'plain',
    ddl: `${FLOOR_TABLE('no_compression')}; ALTER TABLE no_compression ALTER envelope SET STORAGE EXTERNAL`,
  },
  {
    key: 'no_wal',
    name: 'no WAL (UNLOGGED)',
    server: 'plain',
    ddl: FLOOR_TABLE('no_wal').replace('CREATE TABLE', 'CREATE UNLOGGED TABLE'),
  },
  {
    key: 'no_id_index',
    name: 'no id index',
    server: 'plain',
    ddl: `${FLOOR_TABLE('no_id_index')}; ALTER TABLE no_id_index DROP CONSTRAINT no_id_index_pkey`,
  },
  {
    key: 'malloc_kept',
    name: 'floor, server keeps its malloc memory',
    server: 'malloc_kept',
    ddl: FLOOR_TABLE('malloc_kept'),
  },
];

const servers: Partial<Record<Variant['server'], PrivatePostgres>> = {};
const disposeAll = () => Promise.allSettled(Object.values(servers).map((s) => s.dispose()));
process.once('SIGINT', () => void disposeAll().finally(() => process.exit(130)));
process.once('SIGTERM', () => void disposeAll().finally(() => process.exit(130)));
try {
  const settings = { autovacuum: 'on', fsync: 'on' };
  servers.plain = await startPrivatePostgres({ settings });
  servers.malloc_kept = await startPrivatePostgres({ settings, env: MALLOC_KEPT });
} catch (err) {
  console.error(`pg-bytes: ${(err as Error).message}`);
  await disposeAll();
  process.exit(1);
}

const m0 = machine();
console.log(
  `pg-bytes bench: ${VARIANTS.length} variants interleaved, slices of ${SLICE} x ${BATCH} messages, ${SIZE}-byte envelopes, ${durationS}s; ${m0.text}`,
);

const pools = new Map<Variant['server'], pg.Pool>();
for (const [key, server] of Object.entries(servers) as [Variant['server'], PrivatePostgres][]) {
  const url = await createDatabase(server.url, 'fleet_pgbytes');
  pools.set(key, createPool(url, { min_connections: 1, max_connections: 1, idle_timeout_s: 600 }, {}));
}
for (const v of VARIANTS) await pools.get(v.server)!.query(v.ddl);

// Incompressible, as the e2e load's payload.
const envelope = benchPayload(SIZE);

async function slice(v: Variant): Promise<{ user: number; sys: number }> {
  const pid = servers[v.server]!.pid();
  const c0 = treeCpuTimes(pid);
  for (let i = 0; i < SLICE; i++)
    await insertFloor(pools.get(v.server)!, v.key, benchRows(BATCH, envelope), SIZE);
  const c1 = treeCpuTimes(pid);
  const n = SLICE * BATCH;
  return { user: ((c1.user - c0.user) / n) * 1e6, sys: ((c1.sys - c0.sys) / n) * 1e6 };
}

// Warm-up: each backend's first statements, the first pages of every table.
for (const v of VARIANTS) await slice(v);

const { rounds: round, slices } = await interleave(VARIANTS, durationS, slice);

const r1 = (x: number) => Math.round(x * 10) / 10;
const figures = VARIANTS.map((v, i) => {
  const user = meanOf(slices[i]!, (x) => x.user);
  const sys = meanOf(slices[i]!, (x) => x.sys);
  return { v, user, sys, all: user + sys };
});
const base = figures[0]!;
console.log(`\n${machine().text}; ${round} rounds; Postgres CPU µs per message (mean over slices)`);
console.table(
  figures.map((f) => ({
    variant: f.v.name,
    user: r1(f.user),
    system: r1(f.sys),
    all: r1(f.all),
    'ratio to floor': Math.round((f.all / base.all) * 100) / 100,
  })),
);

for (const pool of pools.values()) await pool.end();
await disposeAll();

console.log(
  JSON.stringify({
    bench: 'pg-bytes',
    batch: BATCH,
    envelope_bytes: SIZE,
    rounds: round,
    floor_us_per_msg: r1(base.all),
    floor_user_us: r1(base.user),
    floor_sys_us: r1(base.sys),
    variants: Object.fromEntries(
      figures
        .slice(1)
        .map((f) => [
          f.v.key,
          { us_per_msg: r1(f.all), sys_us: r1(f.sys), ratio: Math.round((f.all / base.all) * 100) / 100 },
        ]),
    ),
    machine: m0.json,
  }),
);
