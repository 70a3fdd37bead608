import { TopicRouter } from '@fleet/router';
import { machine } from './lib/machine.js';

const durationS = Number(process.env.BENCH_DURATION_S ?? argValue('--duration-s') ?? 10);

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const noop = () => {};

/**
 * n subscriptions spread over n/4 services: 70% exact `svc<k>.ev<e>.r<r>`, 15% `svc<k>.*.r<r>`, 15%
 * `svc<k>.#`, plus two fleet-wide wildcards (`#.ev3`, `*.ev1.#`). A topic matches a handful of them
 * whatever n is, so the figures compare index cost, not result size.
 */
function build(n: number, cacheSize: number): TopicRouter {
  const r = new TopicRouter({ cacheSize });
  r.subscribe('#.ev3', noop);
  r.subscribe('*.ev1.#', noop);
  for (let i = 2; i < n; i++) {
    const svc = `svc${i % Math.max(1, Math.floor(n / 4))}`;
    const kind = i % 20;
    if (kind < 14) r.subscribe(`${svc}.ev${i % 7}.r${i % 5}`, noop);
    else if (kind < 17) r.subscribe(`${svc}.*.r${i % 5}`, noop);
    else r.subscribe(`${svc}.#`, noop);
  }
  return r;
}

/** 1000 topics, each the topic of one of the exact subscriptions (so every topic has matches). */
function topics(n: number): string[] {
  const svcs = Math.max(1, Math.floor(n / 4));
  const exact: string[] = [];
  for (let i = 2; i < n; i++) if (i % 20 < 14) exact.push(`svc${i % svcs}.ev${i % 7}.r${i % 5}`);
  return Array.from({ length: 1000 }, (_, i) => exact[(i * 7919) % exact.length]!);
}

/** Runs match() for about `ms` ms; returns the operations done, the nanoseconds spent and the matches found. */
function slice(
  r: TopicRouter,
  ts: string[],
  ms: number,
  from: number,
): { ops: number; ns: number; found: number } {
  let found = 0;
  let ops = 0;
  const t0 = process.hrtime.bigint();
  const end = Date.now() + ms;
  while (Date.now() < end) {
    for (let i = 0; i < 2_000; i++) found += r.match(ts[(from + ops + i) % ts.length]!).length;
    ops += 2_000;
  }
  return { ops, ns: Number(process.hrtime.bigint() - t0), found };
}

// The four cases run interleaved in 100 ms slices, so load changes on a shared machine hit them alike.
const cases = [
  { label: 'trie_10', n: 10, cache: 0 },
  { label: 'trie_10k', n: 10_000, cache: 0 },
  { label: 'cached_10', n: 10, cache: 10_000 },
  { label: 'cached_10k', n: 10_000, cache: 10_000 },
].map((c) => ({ ...c, router: build(c.n, c.cache), topics: topics(c.n), ops: 0, ns: 0, found: 0 }));
for (const c of cases) slice(c.router, c.topics, 200, 0); // warm-up
const rounds = Math.max(1, Math.floor((durationS * 1000) / (cases.length * 100)));
let lastProgress = Date.now();
for (let round = 0; round < rounds; round++) {
  for (const c of cases) {
    const s = slice(c.router, c.topics, 100, c.ops);
    c.ops += s.ops;
    c.ns += s.ns;
    c.found += s.found;
  }
  if (Date.now() - lastProgress > 2_000) {
    lastProgress = Date.now();
    console.error(
      `  round ${round + 1}/${rounds}: ${cases.map((c) => `${c.label} ${(c.ns / c.ops).toFixed(0)} ns`).join(', ')}`,
    );
  }
}
const results: Record<string, number> = {};
for (const c of cases) {
  results[c.label] = c.ns / c.ops;
  console.error(
    `  ${c.label.padEnd(11)} ${(c.ns / c.ops).toFixed(1)} ns/match (${c.router.size} subscriptions, ${(c.found / c.ops).toFixed(1)} matches/topic)`,
  );
}

const ratio = results.trie_10k! / results.trie_10!;
console.log(`\n${machine().text}`);
console.table([
  {
    case: 'exact topic, trie (no cache)',
    subs_10k_ns: results.trie_10k!.toFixed(1),
    subs_10_ns: results.trie_10!.toFixed(1),
    ratio: ratio.toFixed(2),
  },
  {
    case: 'exact topic, topic cache',
    subs_10k_ns: results.cached_10k!.toFixed(1),
    subs_10_ns: results.cached_10!.toFixed(1),
    ratio: (results.cached_10k! / results.cached_10!).toFixed(2),
  },
]);
console.log(
  JSON.stringify({
    bench: 'router',
    match_ns_10k: round(results.trie_10k!),
    match_ns_10: round(results.trie_10!),
    ratio: round(ratio),
    cached_ns_10k: round(results.cached_10k!),
    cached_ns_10: round(results.cached_10!),
  }),
);

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
