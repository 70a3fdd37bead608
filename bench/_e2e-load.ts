/**
 * Fixed-rate (open-loop) load generator process for bench/e2e.ts: publishes `rate` messages/s with
 * @fleet/client for `durationS`, whatever the fleet's speed, so a fleet that keeps up shows its latency at
 * that rate and one that does not shows a growing backlog. Usage:
 *   node --import tsx bench/_e2e-load.ts '{"host":"127.0.0.1","port":7400,"rate":5000,"durationS":10,"topic":"t","size":100,"rampS":4}'
 * Progress lines ("... acked/s ...") go to stderr; the result is one JSON line on stdout.
 */
import { connect } from '@fleet/client';

interface Opts {
  host: string;
  port: number;
  rate: number;
  durationS: number;
  topic: string;
  size: number;
  /** Seconds over which the rate climbs linearly from 0 to `rate` (warm-up); 0 = full rate at once. */
  rampS?: number;
}

const opts = JSON.parse(process.argv[2] ?? '{}') as Opts;
const client = await connect({
  host: opts.host,
  port: opts.port,
  window: 4096,
  clientName: 'bench-e2e-rate',
});
const payload = Buffer.alloc(opts.size, 0x61);
let sent = 0;
let acked = 0;
let errors = 0;
const start = performance.now();
const end = start + opts.durationS * 1000;
let lastAcked = 0;
const progress = setInterval(() => {
  const t = (performance.now() - start) / 1000;
  process.stderr.write(
    `  rate ${opts.rate}/s  t=${t.toFixed(0)}s  ${acked - lastAcked} acked/s  in flight ${sent - acked - errors}\n`,
  );
  lastAcked = acked;
}, 1000);

// Every 5 ms, publish what the schedule says is due (catches up after a late timer, never runs ahead).
await new Promise<void>((resolve) => {
  const tick = setInterval(() => {
    const now = performance.now();
    if (now >= end) {
      clearInterval(tick);
      resolve();
      return;
    }
    const t = (now - start) / 1000;
    const ramp = opts.rampS ?? 0;
    // Messages due by t: the integral of a rate that climbs linearly over `ramp`, then stays at `rate`.
    const due = Math.floor(opts.rate * (t < ramp ? (t * t) / (2 * ramp) : t - ramp / 2));
    for (; sent < due; sent++) {
      client.publish(opts.topic, payload).then(
        () => {
          acked++;
        },
        () => {
          errors++;
        },
      );
    }
  }, 5);
});
const durationS = (performance.now() - start) / 1000;
await client.close();
clearInterval(progress);
process.stdout.write(`${JSON.stringify({ sent, acked, errors, durationS, rate: opts.rate })}\n`);
process.exit(0);
