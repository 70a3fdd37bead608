import { setImmediate as yieldLoop } from 'node:timers/promises';
import { decodeEnvelope, type Envelope, encodeEnvelope } from '@fleet/protocol';
import {
  createLogger,
  generateTraceparent,
  initTelemetry,
  logProcessed,
  logReceived,
  startSpanFromTraceparent,
  type Telemetry,
  TraceContext,
  withTrace,
} from '@fleet/tracing';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { machine } from './lib/machine.js';

const durationS = Number(process.env.BENCH_DURATION_S ?? argValue('--duration-s') ?? 20);
function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Counts spans and drops them: the cost measured is recording + batching, not a network. */
class DiscardExporter implements SpanExporter {
  spans = 0;
  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.spans += spans.length;
    done({ code: 0 });
  }
  async shutdown(): Promise<void> {}
}

const N_MSGS = 4096;
function messages(flags: number): Buffer[] {
  return Array.from({ length: N_MSGS }, (_, i) => {
    const env: Envelope = {
      id: `msg-${i}`,
      topic: `order.created.r${i % 8}`,
      type: 'event',
      priority: 2,
      timestamp: Date.now(),
      traceparent: generateTraceparent(flags),
      headers: { tenant: 't1' },
      payload: Buffer.from(JSON.stringify({ order: i, amount: 12.5 })),
    };
    return encodeEnvelope(env);
  });
}

const logger = createLogger({
  name: 'bench',
  level: 'info',
  writers: [{ type: 'file', path: '/dev/null' }],
}).child({
  component: 'handler',
});
let sink = 0;
const handler = (env: Envelope): void => {
  sink += env.payload.length;
};

type Variant = (buf: Buffer) => void;
const baseline: Variant = (buf) => {
  const env = decodeEnvelope(buf);
  handler(env);
};
function traced(t: Telemetry): Variant {
  const tracer = t.tracer;
  return (buf) => {
    const env = decodeEnvelope(buf);
    withTrace(env.traceparent, () => {
      logReceived(logger, { topic: env.topic, size: env.payload.length, id: env.id });
      const span = startSpanFromTraceparent(tracer, 'worker.handle', TraceContext.get());
      handler(env);
      span.end();
      logProcessed(logger, { topic: env.topic, id: env.id, latencyMs: 0, status: 'completed' });
    });
  };
}

/**
 * CPU ns per message (this process's user+system time, so other load on the shared machine
 * counts less than with wall time) over ms milliseconds; yields to the event loop every 256
 * messages like a worker between jobs (same for every variant; lets the span batcher export).
 */
async function measure(fn: Variant, msgs: Buffer[], ms: number): Promise<number> {
  let n = 0;
  const cpu0 = process.cpuUsage();
  const end = Date.now() + ms;
  while (Date.now() < end) {
    for (let i = 0; i < 256; i++) fn(msgs[(n + i) % N_MSGS]!);
    n += 256;
    await yieldLoop();
  }
  const cpu = process.cpuUsage(cpu0);
  return ((cpu.user + cpu.system) * 1000) / n;
}

const exporter0 = new DiscardExporter();
const exporter1 = new DiscardExporter();
const t0 = initTelemetry({
  serviceName: 'bench',
  exporter: 'none',
  samplingRatio: 0,
  enabled: true,
  spanExporter: exporter0,
  global: false,
});
const t1 = initTelemetry({
  serviceName: 'bench',
  exporter: 'none',
  samplingRatio: 1,
  enabled: true,
  spanExporter: exporter1,
  global: false,
});
const tOff = initTelemetry({ serviceName: 'bench', exporter: 'none', samplingRatio: 1, enabled: false });

const unsampled = messages(0);
const sampled = messages(1);
const variants: [string, Variant, Buffer[]][] = [
  ['baseline', baseline, unsampled],
  ['propagation (tracing disabled: ids + logs)', traced(tOff), unsampled],
  ['tracing on, sampling 0', traced(t0), unsampled],
  ['tracing on, sampling 1', traced(t1), sampled],
];

console.log(`tracing-micro: ${durationS}s; ${machine().text}`);
const rounds = 12;
const slice = (durationS * 1000) / (rounds * variants.length + variants.length);
for (const [, fn, msgs] of variants) await measure(fn, msgs, slice); // warm-up
const samples = variants.map(() => [] as number[]);
for (let r = 0; r < rounds; r++) {
  // Rotate the order each round so drift (other load, GC, JIT) spreads over all variants.
  for (let k = 0; k < variants.length; k++) {
    const v = (r + k) % variants.length;
    const [, fn, msgs] = variants[v]!;
    samples[v]!.push(await measure(fn, msgs, slice));
  }
  console.log(`  round ${r + 1}/${rounds}: ${samples.map((s) => s.at(-1)!.toFixed(0)).join(' / ')} ns/msg`);
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const med = samples.map(median);

// Cost of a gateway-generated traceparent (messages that arrive without one).
let genSink = 0;
const genStart = process.cpuUsage();
for (let i = 0; i < 200_000; i++) genSink += generateTraceparent().length;
const genCpu = process.cpuUsage(genStart);
const genNs = ((genCpu.user + genCpu.system) * 1000) / 200_000;

await t0.shutdown();
await t1.shutdown();
const base = med[0]!;
console.log(`\n${machine().text}`);
console.table(
  variants.map(([name], i) => ({
    variant: name,
    ns_per_msg: med[i]!.toFixed(0),
    overhead_ns: (med[i]! - base).toFixed(0),
    ratio_vs_baseline: (med[i]! / base).toFixed(3),
    // At the design's 100K msg/s a message has 10 us of one core: overhead as a share of that.
    pct_of_10us_budget: (((med[i]! - base) / 10_000) * 100).toFixed(2),
  })),
);
console.log(
  `generateTraceparent: ${genNs.toFixed(0)} ns; spans exported at sampling 1: ${exporter1.spans}, at 0: ${exporter0.spans} (sink ${sink % 10}${genSink % 10})`,
);
console.log(
  JSON.stringify({
    bench: 'tracing-micro',
    ns_per_msg_off: Math.round(base),
    ns_per_msg_on: Math.round(med[2]!),
    overhead_ns: Math.round(med[2]! - base),
    propagation_only_ns: Math.round(med[1]! - base),
    full_sampling_ns: Math.round(med[3]! - base),
    generate_traceparent_ns: Math.round(genNs),
    rounds,
  }),
);
