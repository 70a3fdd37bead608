/**
 * Router match cost: 10K subscriptions (mixed exact and wildcard) against 10, same run.
 * Figures: ns per match() of an exact topic, through the trie (cache off) and through the topic cache.
 */
import os from 'node:os';
import { TopicRouter } from '@fleet/router';

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

/** ns per match() over `ms` milliseconds. */
function measure(r: TopicRouter, ts: string[], ms: number): { ns: number; perTopic: number } {
  let sink = 0;
  for (let i = 0; i < 20_000; i++) sink += r.match(ts[i % ts.length]!).length; // warm-up
  let ops = 0;
  const t0 = process.hrtime.bigint();
  const end = Date.now() + ms;
  while (Date.now() < end) {
    for (let i = 0; i < 10_000; i++) sink += r.match(ts[(ops + i) % ts.length]!).length;
    ops += 10_000;
  }
  const ns = Number(process.hrtime.bigint() - t0) / ops;
  return { ns, perTopic: sink / (ops + 20_000) };
}

const slice = (durationS * 1000) / 4;
console.log(`router bench: ${durationS}s on ${os.cpus()[0]?.model} x${os.cpus().length}, node ${process.version}`);
const results: Record<string, number> = {};
for (const [label, n, cache] of [
  ['trie_10', 10, 0],
  ['trie_10k', 10_000, 0],
  ['cached_10', 10, 10_000],
  ['cached_10k', 10_000, 10_000],
] as const) {
  const r = build(n, cache);
  const { ns, perTopic } = measure(r, topics(n), slice);
  results[label] = ns;
  console.log(`  ${label.padEnd(11)} ${ns.toFixed(1)} ns/match (${r.size} subscriptions, ${perTopic.toFixed(1)} matches/topic)`);
}

const ratio = results.trie_10k! / results.trie_10!;
console.log(`\nmachine: ${os.cpus()[0]?.model}, ${os.cpus().length} cores, node ${process.version}`);
console.table([
  { case: 'exact topic, trie (no cache)', subs_10k_ns: results.trie_10k!.toFixed(1), subs_10_ns: results.trie_10!.toFixed(1), ratio: ratio.toFixed(2) },
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
