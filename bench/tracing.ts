/**
 * Tracing overhead in the fleet: CPU per message of the gateway and the worker with tracing off, on (defaults) and with 100% span sampling, each traced app run side by side with an untraced twin at the same time.
 *
 * Modes:
 * - off:  no trace ids at all (the gateway generates none, jobs carry none): the baseline.
 * - on:   the default config (tracing.enabled, exporter none): the gateway traces each message (a UUID id)
 *         under its id, a 2-byte derived mark in the stream entry and the job, and the worker runs each
 *         handler inside that trace (TraceContext scope, log mixin); no spans are recorded.
 * - full: spans recorded for every message (sampling_ratio 1, BatchSpanProcessor into a discarding
 *         exporter): gateway `append` batch spans with links, worker `handle <topic>` spans.
 * Two host processes (bench/_tracing-host.ts) each start a real startGateway per mode (replaced by fresh
 * ones before each pair of rounds, see renewGateways) and two real startWorkers, once: one untraced worker
 * serves `off` and `on` (with spans off they are configured alike; only the jobs differ), one serves `full`.
 * A round runs one traced mode in one host and `off` in the other AT THE SAME TIME: a gateway phase (each
 * gateway loaded by its own load process, bench/_tracing-load.ts: @fleet/client runLoad,
 * 10 connections x 200 in flight, 100-byte payloads, closed loop: saturated, where a gateway spends the
 * least CPU per message and a per-message cost weighs most; the hosts XTRIM the streams), then a
 * worker phase (each worker drains its own pre-filled queue: jobs of 100 messages, concurrency 8, a
 * handler that logs at debug with the logger at info). Each host reports its own process CPU time per
 * message for the phase. The twin shares the box's load of that moment (other work on a shared box
 * moved CPU per message by ±10-20% between sequential phases), so their ratio is what is judged.
 * The next round of the same mode swaps the hosts; a pair of rounds (geometric mean of its two ratios)
 * cancels any difference between the two host processes. Figures: median over pairs, with IQR and
 * min..max. Schedule: on, on, on, full, ... after four warm-up rounds, until the time budget is spent.
 * Env: BENCH_DURATION_S (default 300, lib/durations.ts: the whole run stays within it), BENCH_PHASE_S
 * (default 2), BENCH_TRACING_AA=1 (an A/A run: `on` configured as `off` in both apps, so the figure is the
 * bench's own bias and noise), FLEET_REDIS_URL.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import os from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { LoadResult } from '@fleet/client';
import { TS_HOOK } from '../test/helpers/processes.js';
import type { HostReady, HostRequest, Mode, PhaseResult } from './_tracing-host.js';
import { DEFAULT_DURATION_S } from './lib/durations.js';
import { machine } from './lib/machine.js';

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const durationS = Number(
  argValue('--duration-s') ?? process.env.BENCH_DURATION_S ?? DEFAULT_DURATION_S.tracing,
);
const phaseS = Math.max(0.25, Number(process.env.BENCH_PHASE_S ?? 2));
const MODES: readonly Mode[] = ['off', 'on', 'full'];
/** Traced modes in turn (`on`, the headline, three times as often as `full`). */
const TRACED: readonly Mode[] = ['on', 'on', 'on', 'full'];
const LOAD = { connections: 10, window: 200, size: 100 };
const JOB_SIZE = 100;
const progress = (line: string) => process.stderr.write(`${line}\n`);
const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));

// ------------------------------------------------------------------ processes

/** An app host: requests over IPC, one answer per request, in order. */
class Host {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly ready: Promise<void>;
  constructor(readonly child: ChildProcess) {
    this.ready = new Promise((resolve, reject) => {
      child.on('message', (m: HostReady | { id: number; result?: unknown; error?: string }) => {
        if ('ready' in m) {
          resolve();
          return;
        }
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.error !== undefined) p?.reject(new Error(`host: ${m.error}`));
        else p?.resolve(m.result);
      });
      child.on('exit', (code) => {
        const err = new Error(`tracing host exited (${code})`);
        reject(err);
        for (const p of this.pending.values()) p.reject(err);
      });
    });
  }
  call<T>(req: HostRequest): Promise<T> {
    const id = this.seq++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, req });
    });
  }
}

const startHost = () =>
  new Host(
    spawn(process.execPath, ['--expose-gc', '--import', TS_HOOK, here('./_tracing-host.ts')], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );

/** A load generator process: one runLoad per request line, answered in order. */
class Loader {
  private readonly answers: Array<(line: string) => void> = [];
  readonly child = spawn(process.execPath, ['--import', TS_HOOK, here('./_tracing-load.ts')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  constructor() {
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.answers.shift()?.(line));
  }
  run(port: number, durationS = phaseS): Promise<LoadResult> {
    const opts = { host: '127.0.0.1', port, ...LOAD, durationS };
    return new Promise((resolve, reject) => {
      this.answers.push((line) => {
        const r = JSON.parse(line) as LoadResult & { error?: string };
        if (r.error) reject(new Error(`load generator: ${r.error}`));
        else resolve(r);
      });
      this.child.stdin!.write(`${JSON.stringify(opts)}\n`);
    });
  }
}

// ------------------------------------------------------------------ rounds

interface Sample {
  perS: number;
  cpuUsPerMsg: number;
}
const sample = (r: PhaseResult): Sample => ({
  perS: r.messages / Math.max(1e-3, r.seconds),
  cpuUsPerMsg: r.cpuUs / Math.max(1, r.messages),
});
interface Round {
  mode: Mode;
  /** Host running the traced mode (the other runs off). */
  tracedHost: 0 | 1;
  g: { traced: Sample; off: Sample };
  w: { traced: Sample; off: Sample };
}

const t0 = performance.now();
const elapsedS = () => (performance.now() - t0) / 1000;
progress(
  `tracing bench: traced and untraced twins side by side, ${phaseS.toFixed(1)} s phases, gateway+worker, budget ${durationS} s; ${machine().text}`,
);
const hosts = [startHost(), startHost()] as const;
const loaders = [new Loader(), new Loader()] as const;
await Promise.all(hosts.map((h) => h.ready));

let workerN = 20_000;
async function round(mode: Mode, tracedHost: 0 | 1): Promise<Round> {
  const modeOf = (h: number): Mode => (h === tracedHost ? mode : 'off');
  const both = <T>(f: (h: Host, i: number) => Promise<T>) => Promise.all(hosts.map(f));
  const ports = await both((h, i) => h.call<number>({ op: 'gw-begin', mode: modeOf(i) }));
  await Promise.all(loaders.map((l, i) => l.run(ports[i]!)));
  const gw = await both((h, i) => h.call<PhaseResult>({ op: 'gw-end', mode: modeOf(i) }));
  await both((h, i) => h.call({ op: 'wk-fill', mode: modeOf(i), messages: workerN }));
  const wk = await both((h, i) => h.call<PhaseResult>({ op: 'wk-run', mode: modeOf(i), seconds: phaseS }));
  const off = 1 - tracedHost;
  return {
    mode,
    tracedHost,
    g: { traced: sample(gw[tracedHost]!), off: sample(gw[off]!) },
    w: { traced: sample(wk[tracedHost]!), off: sample(wk[off]!) },
  };
}

/** Untimed load on a fresh gateway before it is measured (connections, buffers, its first batches). */
const WARM_S = 0.3;
/**
 * Before each pair: both hosts replace the pair's two gateways (traced mode and off) by fresh ones, each
 * host in its own random order, and warm them untimed. A difference between two gateway instances is then
 * drawn anew per pair and averages out over the pairs; with the same instances for a whole run, A/A runs
 * (nothing differing) read the gateway at -1.6%, +2.1% and +3.4%.
 */
async function renewGateways(mode: Mode): Promise<void> {
  const ports = await Promise.all(
    hosts.map((h) => {
      const modes: Mode[] = Math.random() < 0.5 ? [mode, 'off'] : ['off', mode];
      return h.call<Partial<Record<Mode, number>>>({ op: 'gw-renew', modes });
    }),
  );
  await Promise.all(
    loaders.map(async (l, i) => {
      for (const port of Object.values(ports[i]!)) await l.run(port, WARM_S);
    }),
  );
}

const fmt = (s: Sample) => `${s.cpuUsPerMsg.toFixed(2)} µs/msg`;
const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`;
const ratioPct = (a: Sample, b: Sample) => (a.cpuUsPerMsg / b.cpuUsPerMsg - 1) * 100;

// Warm-up (not counted): every mode in both hosts (JIT), and the worker's top-up sized to a phase.
for (const [mode, h] of [
  ['on', 0],
  ['full', 0],
  ['on', 1],
  ['full', 1],
] as const) {
  const r = await round(mode, h);
  workerN = Math.min(
    200_000,
    Math.max(5_000, Math.ceil((r.w.off.perS * phaseS * 1.5) / JOB_SIZE) * JOB_SIZE),
  );
}
progress(
  `  warm-up done (${elapsedS().toFixed(0)} s); each worker phase tops its queue up to ${workerN} messages`,
);

const rounds: Round[] = [];
const count: Record<Mode, number> = { off: 0, on: 0, full: 0 };
let longest = 0;
for (let i = 0; ; i++) {
  const mode = TRACED[i % TRACED.length]!;
  // A pair (two rounds of the mode, hosts swapped) must fit, or the last round is wasted.
  const need = count[mode] % 2 === 0 ? 2 : 1;
  if (elapsedS() + need * longest + 5 > durationS) break;
  const s0 = performance.now();
  if (count[mode] % 2 === 0) await renewGateways(mode);
  const r = await round(mode, (count[mode] % 2) as 0 | 1);
  longest = Math.max(longest, (performance.now() - s0) / 1000);
  count[mode]++;
  rounds.push(r);
  progress(
    `  ${String(rounds.length).padStart(2)} ${mode.padEnd(4)} in host ${r.tracedHost}  gateway ${fmt(r.g.traced)} vs ${fmt(r.g.off)} (${pct(ratioPct(r.g.traced, r.g.off))}, ${Math.round(r.g.off.perS / 1000)}K/s)  worker ${fmt(r.w.traced)} vs ${fmt(r.w.off)} (${pct(ratioPct(r.w.traced, r.w.off))}, ${Math.round(r.w.off.perS / 1000)}K/s)`,
  );
}
const load = os.loadavg().map((x) => x.toFixed(1));
await Promise.all(hosts.map((h) => h.call({ op: 'close' })));
for (const l of loaders) l.child.stdin!.end();

// ------------------------------------------------------------------ figures

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  return s[lo]! + (s[Math.ceil(i)]! - s[lo]!) * (i - lo);
};
const median = (xs: number[]) => quantile(xs, 0.5);
type Pick = (r: Round) => { traced: Sample; off: Sample };
/** Per pair of rounds of a mode (hosts swapped): the geometric mean of its two traced/off ratios, in %. */
function pairs(mode: Mode, pick: Pick, value: (s: Sample) => number): number[] {
  const own = rounds.filter((r) => r.mode === mode);
  const out: number[] = [];
  for (let k = 0; k + 1 < own.length; k += 2) {
    const lr = (r: Round) => Math.log(value(pick(r).traced) / value(pick(r).off));
    out.push((Math.exp((lr(own[k]!) + lr(own[k + 1]!)) / 2) - 1) * 100);
  }
  return out;
}
const spread = (xs: number[]) => ({
  median: median(xs),
  p25: quantile(xs, 0.25),
  p75: quantile(xs, 0.75),
  min: Math.min(...xs),
  max: Math.max(...xs),
  n: xs.length,
});
const describe = (d: ReturnType<typeof spread>) =>
  `${pct(d.median)} [IQR ${pct(d.p25)}..${pct(d.p75)}, ${pct(d.min)}..${pct(d.max)}]`;
const components: Array<[string, Pick]> = [
  ['gateway (10 conns)', (r) => r.g],
  ['worker (jobs of 100)', (r) => r.w],
];
const cpuOf = (s: Sample) => s.cpuUsPerMsg;
// Throughput: msg/s lost (1/ratio), same pairing.
const perSOf = (s: Sample) => 1 / s.perS;
const stats = Object.fromEntries(
  components.flatMap(([name, pick]) =>
    (['on', 'full'] as const).map((mode) => [
      `${name}/${mode}`,
      { cpu: spread(pairs(mode, pick, cpuOf)), thr: spread(pairs(mode, pick, perSOf)) },
    ]),
  ),
);
console.log(
  `\n${machine().text}; load average ${load.join(' ')} at the end (shared with other work). ${rounds.length} rounds in ${elapsedS().toFixed(0)} s; overhead = traced vs its untraced twin in the same phase, median over host-swapped pairs [IQR, min..max].`,
);
console.table(
  components.flatMap(([name, pick]) =>
    MODES.map((mode) => {
      const own =
        mode === 'off'
          ? rounds.map((r) => pick(r).off)
          : rounds.filter((r) => r.mode === mode).map((r) => pick(r).traced);
      const st = stats[`${name}/${mode}`];
      return {
        component: name,
        mode: mode === 'off' ? 'off (baseline)' : mode === 'on' ? 'on (defaults)' : 'full (100% spans)',
        phases: own.length,
        'msg/s': Math.round(median(own.map((s) => s.perS))),
        'cpu µs/msg': median(own.map((s) => s.cpuUsPerMsg)).toFixed(2),
        'cpu ratio vs off': st ? (1 + st.cpu.median / 100).toFixed(4) : '1',
        'cpu overhead': st ? describe(st.cpu) : '-',
        'throughput overhead': st ? describe(st.thr) : '-',
      };
    }),
  ),
);
const r2 = (x: number) => Math.round(x * 100) / 100;
const G = stats['gateway (10 conns)/on']!;
const W = stats['worker (jobs of 100)/on']!;
const GF = stats['gateway (10 conns)/full']!;
const WF = stats['worker (jobs of 100)/full']!;
const mean2 = (a: number, b: number) => r2((a + b) / 2);
const offMedian = (pick: Pick, f: (s: Sample) => number) => median(rounds.map((r) => f(pick(r).off)));
console.log(
  JSON.stringify({
    bench: 'tracing',
    // CPU time per message, traced vs its untraced twin: medians over host-swapped pairs, mean of gateway and worker.
    overhead_pct: mean2(G.cpu.median, W.cpu.median),
    overhead_iqr_pct: [mean2(G.cpu.p25, W.cpu.p25), mean2(G.cpu.p75, W.cpu.p75)],
    full_sampling_overhead_pct: mean2(GF.cpu.median, WF.cpu.median),
    gateway_overhead_pct: r2(G.cpu.median),
    gateway_overhead_iqr_pct: [r2(G.cpu.p25), r2(G.cpu.p75)],
    gateway_overhead_range_pct: [r2(G.cpu.min), r2(G.cpu.max)],
    worker_overhead_pct: r2(W.cpu.median),
    worker_overhead_iqr_pct: [r2(W.cpu.p25), r2(W.cpu.p75)],
    worker_overhead_range_pct: [r2(W.cpu.min), r2(W.cpu.max)],
    gateway_full_overhead_pct: r2(GF.cpu.median),
    worker_full_overhead_pct: r2(WF.cpu.median),
    // Lost msg/s, same pairing (noisier: the twins compete for the same two cores).
    throughput_overhead_pct: mean2(G.thr.median, W.thr.median),
    gateway_throughput_overhead_pct: r2(G.thr.median),
    worker_throughput_overhead_pct: r2(W.thr.median),
    gateway_off_cpu_us_per_msg: r2(offMedian((r) => r.g, cpuOf)),
    worker_off_cpu_us_per_msg: r2(offMedian((r) => r.w, cpuOf)),
    gateway_off_per_s: Math.round(
      offMedian(
        (r) => r.g,
        (s) => s.perS,
      ),
    ),
    worker_off_per_s: Math.round(
      offMedian(
        (r) => r.w,
        (s) => s.perS,
      ),
    ),
    pairs_on: G.cpu.n,
    pairs_full: GF.cpu.n,
    phase_s: phaseS,
    load_avg_1m: Number(load[0]),
    elapsed_s: Math.round(elapsedS()),
  }),
);
process.exit(0);
