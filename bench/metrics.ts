import { LeanHistogram, SECONDS_BUCKETS } from '@fleet/metrics';
import { Histogram, Registry } from 'prom-client';
import { machine } from './lib/machine.js';

const durationS = Number(process.env.BENCH_DURATION_S ?? argValue('--duration-s') ?? 10);
function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const registry = new Registry();
const registers = [registry];
const promPlain = new Histogram({ name: 'p_plain', help: 'h', buckets: SECONDS_BUCKETS, registers });
const promTopic = new Histogram({
  name: 'p_topic',
  help: 'h',
  labelNames: ['topic'],
  buckets: SECONDS_BUCKETS,
  registers,
});
const leanPlain = new LeanHistogram('l_plain', 'h', [], SECONDS_BUCKETS, registers);
const leanTopic = new LeanHistogram('l_topic', 'h', ['topic'], SECONDS_BUCKETS, registers);
// Four topic labels, as a worker handling a few topics; the lean series are looked up once each.
const TOPICS = ['order', 'payment', 'shipment', 'other'];
const leanSeries = TOPICS.map((t) => leanTopic.labels(t));
const promChildren = TOPICS.map((t) => promTopic.labels(t));
const values = Float64Array.from({ length: 1024 }, (_, i) => ((i * 7919) % 1000) / 50_000);

const CASES: Record<string, (n: number) => void> = {
  'prom-client, no labels': (n) => {
    for (let i = 0; i < n; i++) promPlain.observe(values[i & 1023]!);
  },
  'lean, no labels': (n) => {
    for (let i = 0; i < n; i++) leanPlain.observe(values[i & 1023]!);
  },
  'prom-client, topic label (cached child)': (n) => {
    for (let i = 0; i < n; i++) promChildren[i & 3]!.observe(values[i & 1023]!);
  },
  'lean, topic label': (n) => {
    for (let i = 0; i < n; i++) leanSeries[i & 3]!.observe(values[i & 1023]!);
  },
};

const samples = new Map<string, number[]>(Object.keys(CASES).map((k) => [k, []]));
const BATCH = 20_000;
const end = Date.now() + durationS * 1000;
let rounds = 0;
while (Date.now() < end) {
  for (const [name, run] of Object.entries(CASES)) {
    const t0 = process.cpuUsage();
    let n = 0;
    do {
      run(BATCH);
      n += BATCH;
    } while (cpuUs(t0) < 50_000);
    samples.get(name)!.push((cpuUs(t0) * 1000) / n);
  }
  rounds++;
  if (rounds % 10 === 0) process.stderr.write(`  ${rounds} rounds\n`);
}
// Both kinds hold the same counts: the registry's text carries them (a sanity check, not timed).
await registry.metrics();

function cpuUs(t0: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(t0);
  return c.user + c.system;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ns = Object.fromEntries([...samples].map(([k, v]) => [k, median(v)]));
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
console.log(`\n${machine().text}; ${rounds} rounds`);
console.table(Object.entries(ns).map(([name, v]) => ({ case: name, 'ns / observation': round(v) })));
const plainRatio = ns['prom-client, no labels']! / ns['lean, no labels']!;
const topicRatio = ns['prom-client, topic label (cached child)']! / ns['lean, topic label']!;
console.log(
  JSON.stringify({
    bench: 'metrics',
    lean_ns: round(ns['lean, no labels']!),
    prom_client_ns: round(ns['prom-client, no labels']!),
    ratio: round(plainRatio, 2),
    lean_topic_ns: round(ns['lean, topic label']!),
    prom_client_topic_ns: round(ns['prom-client, topic label (cached child)']!),
    topic_ratio: round(topicRatio, 2),
    rounds,
  }),
);
