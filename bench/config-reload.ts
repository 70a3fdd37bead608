/**
 * Config hot-reload latency: 200 reloads, from the file's write to ConfigWatcher's subscribers called.
 * Baselines in the same run: the raw work (write + read + parseConfig, no watching) and the watcher's
 * notification floor (write -> first chokidar raw event). Target from the design: < 100 ms, aim < 20 ms.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ConfigWatcher, type FleetConfig, parseConfig } from '@fleet/config';
import { watch as chokidarWatch } from 'chokidar';
import * as hdr from 'hdr-histogram-js';
import { machine } from './lib/machine.js';

const RUNS = 200;
const WARMUP = 10;
const durationS = Number(process.env.BENCH_DURATION_S ?? argValue('--duration-s') ?? 60);
const deadline = Date.now() + durationS * 1000;
const TIMEOUT_MS = 2_000;

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const histogram = () =>
  hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
  });
type Histogram = ReturnType<typeof histogram>;

/** A config whose live field queue.batch_size is `n`, so every write is a real change. */
const text = (n: number) =>
  [
    'messaging_system:',
    '  network: {port: 7400, max_connections: 10000}',
    '  logging: {level: info}',
    '  redis: {url: "redis://127.0.0.1:6379", key_prefix: bench}',
    `  queue: {name: messages, batch_size: ${n}}`,
    '  handlers: {modules: ["../examples/handlers/index.ts"]}',
    '',
  ].join('\n');

function progress(label: string, i: number, total: number): void {
  if (i > 0 && (i % 20 === 0 || i === total)) process.stderr.write(`\r  ${label}: ${i}/${total}   `);
  if (i === total) process.stderr.write('\n');
}

const ms = (h: Histogram, p: number) => h.getValueAtPercentile(p) / 1000; // recorded in µs

async function main(): Promise<void> {
  const dir = await mkdtemp(join(os.tmpdir(), 'fleet-bench-config-'));
  const file = join(dir, 'fleet.yaml');
  let n = 1;
  writeFileSync(file, text(n));
  const quiet = { info() {}, warn() {}, error() {} };
  const env = {};

  // Baseline 1: the work a reload must do at least, without any watching.
  const raw = histogram();
  for (let i = 0; i < RUNS + WARMUP && Date.now() < deadline; i++) {
    n++;
    const t0 = performance.now();
    writeFileSync(file, text(n));
    parseConfig(await readFile(file, 'utf8'), { file, env });
    if (i >= WARMUP) raw.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
    progress('baseline write+read+parse', Math.max(0, i - WARMUP + 1), RUNS);
  }

  // Baseline 2: the notification floor, write -> first raw event of chokidar on the directory.
  const notify = histogram();
  {
    const fsw = chokidarWatch(dir, { depth: 0, ignoreInitial: true, atomic: false });
    await new Promise<void>((r) => fsw.once('ready', () => r()));
    let waiter: (() => void) | undefined;
    fsw.on('raw', () => waiter?.());
    for (let i = 0; i < RUNS + WARMUP && Date.now() < deadline; i++) {
      n++;
      const got = new Promise<void>((r) => {
        waiter = r;
      });
      const t0 = performance.now();
      writeFileSync(file, text(n));
      await Promise.race([got, sleep(TIMEOUT_MS)]);
      waiter = undefined;
      if (i >= WARMUP) notify.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
      progress('baseline fs event', Math.max(0, i - WARMUP + 1), RUNS);
      await sleep(10); // let trailing events of this write pass
    }
    await fsw.close();
  }

  // The figure: write -> subscribers called, for in-place writes and for rename-saves (atomic writers).
  const watcher = new ConfigWatcher(file, { env, logger: quiet });
  let resolveNext: ((cfg: FleetConfig) => void) | undefined;
  watcher.watch((cfg) => resolveNext?.(cfg));
  await watcher.ready();
  const measure = async (
    label: string,
    write: (n: number) => void,
  ): Promise<{ h: Histogram; misses: number; runs: number }> => {
    const h = histogram();
    let misses = 0;
    let runs = 0;
    for (let i = 0; i < RUNS + WARMUP && Date.now() < deadline; i++) {
      n++;
      const want = n;
      const got = new Promise<boolean>((r) => {
        resolveNext = (cfg) => {
          if (cfg.queue.batch_size === want) r(true);
        };
      });
      const t0 = performance.now();
      write(want);
      const ok = await Promise.race([got, sleep(TIMEOUT_MS).then(() => false)]);
      const dt = performance.now() - t0;
      resolveNext = undefined;
      if (i >= WARMUP) {
        runs++;
        if (!ok) misses++;
        h.recordValue(Math.max(1, Math.round(dt * 1000)));
      }
      progress(label, Math.max(0, i - WARMUP + 1), RUNS);
      await sleep(10);
    }
    return { h, misses, runs };
  };
  const inPlace = await measure('reload, in-place write', (v) => writeFileSync(file, text(v)));
  const renamed = await measure('reload, rename-save', (v) => {
    writeFileSync(`${file}.tmp`, text(v));
    renameSync(`${file}.tmp`, file);
  });
  const failures = watcher.failures;
  await watcher.stop();
  await rm(dir, { recursive: true, force: true });

  const row = (name: string, h: Histogram, note = '') =>
    `${name.padEnd(38)} ${ms(h, 50).toFixed(2).padStart(8)} ${ms(h, 95).toFixed(2).padStart(8)} ${ms(h, 99).toFixed(2).padStart(8)} ${(h.maxValue / 1000).toFixed(2).padStart(8)}  ${note}`;
  const ratio = ms(inPlace.h, 50) / ms(raw, 50);
  console.log('');
  console.log(
    `${'config reload (ms)'.padEnd(38)} ${'p50'.padStart(8)} ${'p95'.padStart(8)} ${'p99'.padStart(8)} ${'max'.padStart(8)}`,
  );
  console.log(
    row('reload: in-place write -> subscribers', inPlace.h, `runs=${inPlace.runs} misses=${inPlace.misses}`),
  );
  console.log(
    row('reload: rename-save -> subscribers', renamed.h, `runs=${renamed.runs} misses=${renamed.misses}`),
  );
  console.log(row('baseline: write+read+parse, no watch', raw));
  console.log(row('baseline: write -> first fs event', notify));
  console.log(
    `ratio reload/baseline(write+read+parse) p50: ${ratio.toFixed(1)}x; target p99 < 100 ms (aim < 20 ms); invalid reloads: ${failures}`,
  );
  console.log(machine().text);
  const r2 = (x: number) => Math.round(x * 100) / 100;
  console.log(
    JSON.stringify({
      bench: 'config-reload',
      p50_ms: r2(ms(inPlace.h, 50)),
      p95_ms: r2(ms(inPlace.h, 95)),
      p99_ms: r2(ms(inPlace.h, 99)),
      max_ms: r2(inPlace.h.maxValue / 1000),
      runs: inPlace.runs,
      misses: inPlace.misses,
      rename_p50_ms: r2(ms(renamed.h, 50)),
      rename_p99_ms: r2(ms(renamed.h, 99)),
      baseline_p50_ms: r2(ms(raw, 50)),
      fs_event_p50_ms: r2(ms(notify, 50)),
      ratio: r2(ratio),
    }),
  );
  if (inPlace.misses + renamed.misses > 0) process.exitCode = 1;
}

await main();
