import os from 'node:os';
import { parseArgs } from 'node:util';
import { BENCH_TOPIC, type LoadResult, runLoad } from '../../load.js';
import { EXIT_FAILURE, EXIT_OK, UsageError } from '../command.js';
import {
  ackFlag,
  CONNECTION_FLAGS,
  CONNECTION_HELP,
  connectionOptions,
  intFlag,
} from '../connection-options.js';
import { reportFleetErrors } from '../fleet-errors.js';

export const help = `Usage: fleet bench [options]

Load generator: opens N connections to a gateway, each keeping W publishes in flight, for S seconds.
Prints a live progress line on stderr, then a table of ACKed msg/s and ACK latency (p50/p90/p99/p99.9/max,
hdr-histogram) on stdout, and last one JSON line (bench/gateway.ts parses it).

Options:
  --connections N        client connections (default 10)
  --window W             publishes in flight per connection (default 100; capped by the gateway's max_in_flight)
  --size B               payload bytes (default 100; the same pseudo-random bytes every run, incompressible)
  --duration-s S         seconds to run (default 10; env BENCH_DURATION_S)
  --ack stream|durable   ACK level asked for (default stream)
  --topic T              topic (default ${BENCH_TOPIC}: the example handlers that \`npm start\` loads complete it
                         with a no-op; a fleet with no handler for the topic dead-letters every message)
  --rate R               open loop: R publishes/s in all on a fixed schedule (default: closed loop, each
                         ACK refills its slot at once); still at most W in flight per connection
  --delivery-timeout-ms MS  retry publishes answered UNAVAILABLE / OVERLOADED (same id, backoff) for up to
                         MS after their first send (default 30000; 0 = no retries); retries are counted
${CONNECTION_HELP}

Example:
  fleet bench --connections 100 --window 100 --size 100 --duration-s 20`;

export function run(argv: string[]): Promise<number> {
  return reportFleetErrors('bench', () => runCommand(argv));
}

async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...CONNECTION_FLAGS,
      connections: { type: 'string' },
      window: { type: 'string' },
      size: { type: 'string' },
      'duration-s': { type: 'string' },
      ack: { type: 'string' },
      topic: { type: 'string' },
      rate: { type: 'string' },
      'delivery-timeout-ms': { type: 'string' },
    },
  });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const ack = ackFlag(values.ack);
  const durationS = Number(values['duration-s'] ?? process.env.BENCH_DURATION_S ?? 10);
  if (!(durationS > 0 && durationS <= 86_400))
    throw new UsageError('--duration-s must be a number of seconds > 0');
  const conn = connectionOptions(values);
  const opts = {
    ...conn,
    connections: intFlag('connections', values.connections ?? '10', 1, 10_000),
    window: intFlag('window', values.window ?? '100', 1, 65_535),
    size: intFlag('size', values.size ?? '100', 0, 64 * 1024 * 1024),
    durationS,
    ack,
    ...(values.topic ? { topic: values.topic } : {}),
    ...(values.rate ? { rate: intFlag('rate', values.rate, 1, 100_000_000) } : {}),
    ...(values['delivery-timeout-ms']
      ? { deliveryTimeoutMs: intFlag('delivery-timeout-ms', values['delivery-timeout-ms'], 0, 0xffff_ffff) }
      : {}),
  };
  const tty = process.stderr.isTTY;
  const topic = opts.topic ?? BENCH_TOPIC;
  process.stderr.write(
    `fleet bench: ${opts.connections} connections x window ${opts.window}${opts.rate ? `, ${opts.rate} msg/s` : ''}, ${opts.size} B payloads, ${durationS} s against ${conn.host}:${conn.port}, topic ${topic}\n` +
      // The gateway ACKs what it stored, whatever happens next: say up front where the traffic goes.
      `  (messages go through the fleet to its handlers: examples/handlers completes bench.#; a fleet without a handler for ${topic} dead-letters every one, handlers.unrouted)\n`,
  );
  const result = await runLoad({
    ...opts,
    onProgress: (p) => {
      const line = `  ${p.elapsedS.toFixed(1).padStart(6)} s  ${fmt(p.ackedPerS).padStart(10)} acked/s  total ${p.acked}  in flight ${p.inFlight}  retries ${p.retries}  errors ${p.errors}`;
      process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
    },
  });
  if (tty) process.stderr.write('\n');
  process.stdout.write(table(result) + '\n');
  process.stdout.write(JSON.stringify({ bench: 'fleet-load', ...result }) + '\n');
  return result.acked > 0 ? EXIT_OK : EXIT_FAILURE;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function table(r: LoadResult): string {
  const cpu = os.cpus();
  const rows: Array<[string, string]> = [
    ['machine', `${cpu[0]?.model ?? 'unknown cpu'}, ${cpu.length} cores, node ${process.version}`],
    ['connections x window', `${r.connections} x ${r.window}`],
    ['payload', `${r.size} B`],
    ['duration', `${r.durationS} s`],
    ['acked', fmt(r.acked)],
    ['acked msg/s', fmt(r.ackedPerS)],
    ['ack latency p50', `${r.latencyMs.p50} ms`],
    ['ack latency p90', `${r.latencyMs.p90} ms`],
    ['ack latency p99', `${r.latencyMs.p99} ms`],
    ['ack latency p99.9', `${r.latencyMs.p999} ms`],
    ['ack latency max', `${r.latencyMs.max} ms`],
    ['retries', fmt(r.retries)],
    [
      'errors',
      r.errors === 0
        ? '0'
        : `${r.errors} (${Object.entries(r.errorsByCode)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')})`,
    ],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}
