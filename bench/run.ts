/**
 * Benchmark runner: `npm run bench -- NAME [--duration-s N]` runs bench/NAME.ts (TypeScript through scripts/register-ts.mjs) as a child
 * process (env BENCH_DURATION_S=N and `--duration-s N` passed on), and exits with the child's code.
 * Without NAME, or with an unknown one, it lists the benchmarks (the first line of each file's header
 * comment). Each benchmark bounds itself (<= 60 s by default; tracing 300 s; e2e 60 s plus 2 x 12 s of payload sizes;
 * cluster 60 s of load plus two fleets' start-up and a private Redis Cluster; pg-scale grows a table of
 * BENCH_ROWS rows first); as a safety net the runner stops a child that runs far past its duration (env
 * BENCH_MAX_S sets that limit in seconds).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_DURATION_S } from './lib/durations.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const NOT_BENCHMARKS = new Set(['run']);
const DEFAULT_MAX_S = 60;
/** Safety-net limits (s) of benchmarks whose length depends on more than --duration-s. */
const LIMIT_S: Record<string, () => number> = {
  // Growing the big table (>= ~10K rows/s even on a loaded box), then rounds and retention.
  'pg-scale': () =>
    1_800 + (Number((process.env.BENCH_ROWS || '50000000').replace(/_/g, '')) || 50_000_000) / 10_000,
};

function available(): { name: string; summary: string }[] {
  return readdirSync(benchDir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith('_'))
    .map((f) => f.slice(0, -3))
    .filter((name) => !NOT_BENCHMARKS.has(name))
    .sort()
    .map((name) => ({ name, summary: summaryOf(join(benchDir, `${name}.ts`)) }));
}

/** First sentence-ish line of the file's leading comment. */
function summaryOf(file: string): string {
  const head = readFileSync(file, 'utf8').slice(0, 2000);
  const m = head.match(/^\s*(?:\/\*\*?|\/\/)\s*\n?\s*\*?\s*(.+)/);
  return (m?.[1] ?? '').replace(/\*\/\s*$/, '').trim();
}

function printList(to: NodeJS.WriteStream): void {
  const list = available();
  const width = Math.max(...list.map((b) => b.name.length), 4);
  to.write('Usage: npm run bench -- NAME [--duration-s N]\n\nBenchmarks:\n');
  for (const b of list) to.write(`  ${b.name.padEnd(width)}  ${b.summary}\n`);
}

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  strict: false,
  options: { 'duration-s': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
});
const [name, ...rest] = positionals;

if (values.help) {
  printList(process.stdout);
  process.exit(0);
}
if (!name || !available().some((b) => b.name === name)) {
  if (name) process.stderr.write(`bench: unknown benchmark "${name}"\n\n`);
  printList(process.stderr);
  process.exit(2);
}

const durationArg = typeof values['duration-s'] === 'string' ? values['duration-s'] : undefined;
const duration = durationArg ?? process.env.BENCH_DURATION_S;
if (duration !== undefined && !(Number(duration) > 0)) {
  process.stderr.write(`bench: --duration-s must be a positive number of seconds, got "${duration}"\n`);
  process.exit(2);
}
const env = { ...process.env, ...(duration !== undefined ? { BENCH_DURATION_S: String(duration) } : {}) };
const args = [
  '--import',
  join(benchDir, '..', 'scripts', 'register-ts.mjs'),
  join(benchDir, `${name}.ts`),
  ...(duration !== undefined ? ['--duration-s', String(duration)] : []),
  ...rest,
];
const child = spawn(process.execPath, args, { stdio: 'inherit', env });

// Safety net: a benchmark is bounded by its duration; one that hangs is stopped.
const limitS =
  Number(process.env.BENCH_MAX_S) ||
  (LIMIT_S[name]?.() ??
    (duration !== undefined ? Number(duration) : (DEFAULT_DURATION_S[name] ?? DEFAULT_MAX_S)) * 3 + 60);
const killer = setTimeout(() => {
  process.stderr.write(`bench: ${name} still running after ${limitS} s; stopping it\n`);
  child.kill('SIGTERM');
  setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
}, limitS * 1000);
killer.unref();

for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => {
  clearTimeout(killer);
  process.exit(
    code ??
      (signal ? 128 + (({ SIGINT: 2, SIGTERM: 15, SIGKILL: 9 } as Record<string, number>)[signal] ?? 1) : 1),
  );
});
