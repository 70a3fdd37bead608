/**
 * Gateway ingest: ACKed msg/s and ACK latency at 1, 10 and 100 connections vs raw pipelined XADD (same run).
 * The gateway runs in this process; the load generator (@fleet/client runLoad) runs in a separate process,
 * each connection pipelining a window of 100-byte publishes for a fixed duration. The headline baseline is
 * one Node process XADDing the entries the gateway writes, packed the same way (ENTRY_MAX_MESSAGES messages
 * per entry, encodeIngestBatch, a fresh id and the 2-byte derived trace mark per message, as the gateway
 * writes for a UUID id with spans off), straight to Redis with ioredis
 * pipelines: the ratio then says what the gateway costs over the Redis writes it has to make. A second,
 * named figure XADDs one entry per message (no packing), the unlike comparison earlier runs used. The bench
 * XTRIMs the stream while it runs (in production the persister trims) and deletes its keys at the end.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { benchPayload, type LoadResult } from '@fleet/client';
import { messagingSystemSchema } from '@fleet/config';
import { startGateway } from '@fleet/gateway';
import { createRegistry } from '@fleet/metrics';
import {
  derivedTraceMark,
  ENTRY_MAX_MESSAGES,
  EntryField,
  encodeEnvelope,
  encodeIngestBatch,
  FleetKeys,
} from '@fleet/protocol';
import { TRACE_FLAG_SAMPLED } from '@fleet/tracing';
import { Redis } from 'ioredis';
import pino from 'pino';
import { TS_HOOK } from '../test/helpers/processes.js';
import { machine } from './lib/machine.js';
import { TRIM_ENTRIES } from './lib/trim.js';

const durationS = Number(argValue('--duration-s') ?? process.env.BENCH_DURATION_S ?? 40);
const redisUrl = process.env.FLEET_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PAYLOAD = 100;
/** What the gateway writes in a record for a message with a UUID id and no traceparent (spans off). */
const TRACE_MARK = derivedTraceMark(TRACE_FLAG_SAMPLED);
const CASES = [
  { connections: 1, window: 1_000 },
  { connections: 10, window: 200 },
  { connections: 100, window: 100 },
] as const;
/** Each case and the two baselines get an equal share of the duration; setup time comes on top. */
const phaseS = Math.max(2, Math.floor(durationS / (CASES.length + 2)));

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const prefix = `fleet-bench-gw-${randomBytes(3).toString('hex')}`;
const keys = new FleetKeys(prefix, 1);
const stream = keys.ingestStream(0);
const admin = new Redis(redisUrl);

/** Keeps the stream short while a phase runs (the persister's job in production). */
function startTrimmer(): () => void {
  const t = setInterval(() => {
    admin.xtrim(stream, 'MAXLEN', '~', TRIM_ENTRIES).catch(() => {});
  }, 500);
  return () => clearInterval(t);
}

/**
 * Raw pipelined XADD from this process, `inFlight` pipelines of `batch` messages at once, `perEntry`
 * messages per stream entry: ENTRY_MAX_MESSAGES packs them as the gateway does, 1 writes the old
 * one-message entry (fields e, i, t, a).
 */
async function baseline(seconds: number, perEntry: number): Promise<{ perS: number; count: number }> {
  const redis = new Redis(redisUrl);
  const envelope = encodeEnvelope({
    id: '0192f3a4-5b6c-7d8e-9f00-112233445566',
    topic: 'bench.load',
    type: 'event',
    priority: 0,
    timestamp: Date.now(),
    headers: {},
    payload: benchPayload(PAYLOAD),
  });
  const batch = 500;
  const inFlight = 4;
  let done = 0;
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  const worker = async () => {
    while (performance.now() < end) {
      const p = redis.pipeline();
      const at = String(Date.now());
      for (let i = 0; i < batch; i += perEntry) {
        if (perEntry === 1) {
          p.xadd(
            stream,
            '*',
            EntryField.envelope,
            envelope,
            EntryField.id,
            `id-${done + i}`,
            EntryField.traceparent,
            TRACE_MARK,
            EntryField.acceptedAt,
            at,
          );
          continue;
        }
        const records = [];
        for (let j = 0; j < perEntry && i + j < batch; j++)
          records.push({ envelope, id: `id-${done + i + j}`, traceparent: TRACE_MARK });
        p.xadd(stream, '*', EntryField.batch, encodeIngestBatch(records), EntryField.acceptedAt, at);
      }
      await p.exec();
      done += batch;
    }
  };
  const progress = setInterval(
    () => process.stderr.write(`  baseline (${perEntry}/entry)  ${done.toLocaleString('en-US')} messages\n`),
    1_000,
  );
  await Promise.all(Array.from({ length: inFlight }, worker));
  clearInterval(progress);
  const perS = done / ((performance.now() - start) / 1000);
  redis.disconnect();
  return { perS, count: done };
}

function runLoadProcess(port: number, c: (typeof CASES)[number]): Promise<LoadResult> {
  const script = fileURLToPath(new URL('./_gateway-load.ts', import.meta.url));
  const opts = {
    host: '127.0.0.1',
    port,
    connections: c.connections,
    window: c.window,
    size: PAYLOAD,
    durationS: phaseS,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TS_HOOK, script, JSON.stringify(opts)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{'))
        reject(new Error(`load generator exited ${code}: ${out.slice(-500)}`));
      else resolve(JSON.parse(last) as LoadResult);
    });
  });
}

process.stderr.write(`gateway bench: ${phaseS}s per phase, ${PAYLOAD}-byte payloads; ${machine().text}\n`);

async function measuredBaseline(perEntry: number) {
  const stop = startTrimmer();
  const cpu0 = process.cpuUsage();
  const b = await baseline(phaseS, perEntry);
  const used = process.cpuUsage(cpu0);
  stop();
  await admin.del(stream);
  return { ...b, cpuPerMsg: (used.user + used.system) / Math.max(1, b.count) };
}
const base = await measuredBaseline(ENTRY_MAX_MESSAGES);
const unpacked = await measuredBaseline(1);
let stopTrim: () => void;

const cfg = messagingSystemSchema.parse({
  network: { host: '127.0.0.1', port: 0, max_in_flight: 4_096 },
  redis: { url: redisUrl, key_prefix: prefix },
  // The one shard the baselines write and the trimmer keeps short (`{<prefix>:s0}:ingest`).
  streams: { shards: keys.shards },
  logging: { level: 'silent' },
});
// Metrics on, as in production (main.ts), so their hot-path cost is part of the figure.
const registry = createRegistry({ app: 'gateway', enabled: true });
const gw = await startGateway(cfg, { logger: pino({ level: 'silent' }), registry });
const results: LoadResult[] = [];
/** Gateway CPU (this process: user + system) per ACKed message, a figure less sensitive to a busy machine. */
const cpuPerMsg: number[] = [];
for (const c of CASES) {
  stopTrim = startTrimmer();
  const cpu0 = process.cpuUsage();
  const acked0 = gw.stats().acked;
  results.push(await runLoadProcess(gw.port, c));
  const used = process.cpuUsage(cpu0);
  cpuPerMsg.push((used.user + used.system) / Math.max(1, gw.stats().acked - acked0));
  stopTrim();
  await admin.del(stream);
}
const stats = gw.stats();
await gw.close();
await admin.del(stream);
admin.disconnect();

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(`\n${machine().text}; Redis, gateway and load generator share them`);
console.table([
  {
    case: `baseline: raw pipelined XADD, ${ENTRY_MAX_MESSAGES} packed/entry (as the gateway writes)`,
    'msg/s': fmt(base.perS),
    ratio: '1.00',
    p50_ms: '-',
    p99_ms: '-',
    errors: 0,
    node_cpu_us_per_msg: base.cpuPerMsg.toFixed(2),
  },
  {
    case: 'unlike: raw pipelined XADD, 1 message/entry',
    'msg/s': fmt(unpacked.perS),
    ratio: (unpacked.perS / base.perS).toFixed(2),
    p50_ms: '-',
    p99_ms: '-',
    errors: 0,
    node_cpu_us_per_msg: unpacked.cpuPerMsg.toFixed(2),
  },
  ...results.map((r) => ({
    case: `gateway, ${r.connections} conn x ${r.window} in flight`,
    'msg/s': fmt(r.ackedPerS),
    ratio: (r.ackedPerS / base.perS).toFixed(2),
    p50_ms: r.latencyMs.p50,
    p99_ms: r.latencyMs.p99,
    errors: r.errors,
    node_cpu_us_per_msg: cpuPerMsg[results.indexOf(r)]!.toFixed(2),
  })),
]);
process.stderr.write(
  `gateway: peak in flight ${stats.peakInFlight}, acked ${fmt(stats.acked)}, errors ${stats.errors}\n`,
);
const ten = results[1]!;
console.log(
  JSON.stringify({
    bench: 'gateway',
    acked_per_s: Math.round(ten.ackedPerS),
    acked_per_s_1conn: Math.round(results[0]!.ackedPerS),
    acked_per_s_100conns: Math.round(results[2]!.ackedPerS),
    baseline_xadd_per_s: Math.round(base.perS),
    ratio: Number((ten.ackedPerS / base.perS).toFixed(3)),
    baseline_unpacked_xadd_per_s: Math.round(unpacked.perS),
    ratio_vs_unpacked: Number((ten.ackedPerS / unpacked.perS).toFixed(3)),
    p50_ms: ten.latencyMs.p50,
    p99_ms: ten.latencyMs.p99,
    connections: 10,
    gateway_cpu_us_per_msg: Number(cpuPerMsg[1]!.toFixed(2)),
  }),
);
process.exit(0);
