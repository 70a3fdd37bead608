import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { connect } from '../../client.js';
import { EXIT_OK, UsageError } from '../command.js';
import { CONNECTION_FLAGS, CONNECTION_HELP, connectionOptions, intFlag } from '../connection-options.js';
import { reportFleetErrors } from '../fleet-errors.js';

export const help = `Usage: fleet demo [options]

Publishes sample traffic to a running fleet (npm start) and shows it flowing: order events over several
topics, a few poison messages (their handler always throws: FAILED, retried, then DEAD), and a math.add
request/reply round trip (the example handlers, examples/handlers/index.ts). Then it follows the outcome
on the persister's ops HTTP server: status updates by status (from /metrics, counted from the start of
the demo, fleet-wide) and the demo's own dead letters (from /ops/dead-letters). Publishes answered
UNAVAILABLE or OVERLOADED are retried with the same id; the progress line counts the retries.

Options:
  --count N          order events to publish (default 1000)
  --poison N         poison messages (default 3)
  --wait-s S         how long to follow the outcome (default 30; poison messages go DEAD after the
                     retries, retry.backoff_ms * (1 + 2 + 4 ...) with the default config)
  --ops URL          persister ops HTTP (default http://127.0.0.1:7401, or from --config)
  --config FILE      take the gateway address, ops URL and ops basic auth from a fleet config
${CONNECTION_HELP}

Example:
  npm start                 # in one terminal
  npx fleet demo --count 5000`;

const ORDER_TOPICS = ['order.created', 'order.paid', 'order.eu.shipped', 'order.refunded'];

export function run(argv: string[]): Promise<number> {
  return reportFleetErrors('demo', () => runCommand(argv));
}

async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...CONNECTION_FLAGS,
      count: { type: 'string' },
      poison: { type: 'string' },
      'wait-s': { type: 'string' },
      ops: { type: 'string' },
      config: { type: 'string' },
    },
  });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const count = intFlag('count', values.count ?? '1000', 0, 10_000_000);
  const poisonCount = intFlag('poison', values.poison ?? '3', 0, 1000);
  const waitS = intFlag('wait-s', values['wait-s'] ?? '30', 0, 3600);

  let ops = new OpsClient(values.ops ?? 'http://127.0.0.1:7401');
  const conn = connectionOptions(values);
  if (values.config) {
    const { loadConfigFile } = await import('@fleet/config');
    const cfg = loadConfigFile(values.config);
    if (values.host === undefined)
      conn.host = /^(0\.0\.0\.0|::)$/.test(cfg.network.host) ? '127.0.0.1' : cfg.network.host;
    if (values.port === undefined) conn.port = cfg.network.port;
    const auth = cfg.ops.basic_auth;
    if (!values.ops) ops = new OpsClient(`http://${cfg.ops.host}:${cfg.ops.port}`, auth);
  }

  const out = new LiveLine();
  const before = await ops.statusCounters();
  if (!before) out.note(`ops not reachable at ${ops.base}: counts by status will be skipped`);

  const client = await connect({ ...conn, clientName: 'fleet-demo', reconnect: false, window: 500 });
  const run = randomBytes(3).toString('hex');
  try {
    // 1. Order events, pipelined; a live line while they are ACKed.
    const started = performance.now();
    let acked = 0;
    const line = () => {
      const s = (performance.now() - started) / 1000;
      const retries = client.publishRetries ? `, ${client.publishRetries} retries` : '';
      return `publishing order events: ${acked}/${count} acked (${Math.round(acked / Math.max(s, 0.001))} msg/s${retries})`;
    };
    const ticker = setInterval(() => out.live(line()), 200);
    await forEachLimited(count, 2_000, async (i) => {
      await client.publish(
        ORDER_TOPICS[i % ORDER_TOPICS.length]!,
        { order: i, demo: run },
        { id: `demo-${run}-${i}` },
      );
      acked++;
    });
    clearInterval(ticker);
    out.done(line());

    // 2. Poison messages: their handler throws, so they are retried and then dead-lettered.
    const poisonIds = Array.from({ length: poisonCount }, (_, i) => `demo-${run}-poison-${i}`);
    await Promise.all(poisonIds.map((id) => client.publish('poison.demo', { demo: run }, { id })));
    if (poisonCount) out.done(`published ${poisonCount} poison message(s) on poison.demo`);

    // 3. Request/reply.
    const t = performance.now();
    const reply = await client.request('math.add', { a: 20, b: 22 }, { timeoutMs: 10_000 });
    out.done(
      `request math.add {"a":20,"b":22} -> ${reply.payload.toString('utf8')} (${(performance.now() - t).toFixed(1)} ms round trip)`,
    );

    // 4. Follow the outcome on the ops server.
    if (!before) return EXIT_OK;
    const deadline = Date.now() + waitS * 1000;
    let counts = before;
    let dead: DeadLetter[] = [];
    for (;;) {
      counts = (await ops.statusCounters()) ?? counts;
      dead = poisonCount
        ? ((await ops.deadLetters('poison.demo')) ?? []).filter((d) => poisonIds.includes(d.id))
        : [];
      const completed = (counts.COMPLETED ?? 0) - (before.COMPLETED ?? 0);
      const summary = statusLine(before, counts, dead.length, poisonCount);
      if ((completed >= count + 1 && dead.length === poisonCount) || Date.now() >= deadline) {
        out.done(summary);
        break;
      }
      out.live(summary);
      await new Promise((r) => setTimeout(r, 500));
    }
    for (const d of dead) out.done(`  dead letter ${d.id}: retries ${d.retryCount}, ${d.lastError ?? ''}`);
    if (dead.length < poisonCount)
      out.done(
        `  ${poisonCount - dead.length} poison message(s) not DEAD yet: retries still pending (see --wait-s)`,
      );
    return EXIT_OK;
  } finally {
    await client.close().catch(() => client.destroy());
  }
}

function statusLine(before: Counters, now: Counters, dead: number, poison: number): string {
  const d = (k: string) => (now[k] ?? 0) - (before[k] ?? 0);
  return (
    `status updates since the demo started (fleet-wide): COMPLETED ${d('COMPLETED')}  PROCESSING ${d('PROCESSING')}` +
    `  FAILED ${d('FAILED')}  retried ${d('retries')}  dead-lettered ${d('dead')}` +
    (poison ? `  | demo poison DEAD ${dead}/${poison}` : '')
  );
}

/** Runs fn(0..n-1) with at most `limit` in flight (the client's window bounds the wire further). */
async function forEachLimited(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, lane));
}

/** One line that updates in place on a terminal, and prints at most once a second otherwise. */
class LiveLine {
  private readonly tty = process.stdout.isTTY === true;
  private lastPrinted = 0;
  live(text: string): void {
    if (this.tty) process.stdout.write(`\r\x1b[K${text}`);
    else if (Date.now() - this.lastPrinted >= 1000) {
      process.stdout.write(`${text}\n`);
      this.lastPrinted = Date.now();
    }
  }
  done(text: string): void {
    process.stdout.write(this.tty ? `\r\x1b[K${text}\n` : `${text}\n`);
  }
  note(text: string): void {
    process.stderr.write(`${text}\n`);
  }
}

type Counters = Record<string, number>;
interface DeadLetter {
  id: string;
  retryCount: number;
  lastError: string | null;
}

/** The persister's ops HTTP server: /metrics counters and /ops/dead-letters. */
class OpsClient {
  private readonly headers: Record<string, string> = {};
  constructor(
    readonly base: string,
    auth?: { username: string; password: string },
  ) {
    this.base = base.replace(/\/$/, '');
    if (auth)
      this.headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  }

  private async get(path: string): Promise<Response | null> {
    try {
      const res = await fetch(`${this.base}${path}`, {
        headers: this.headers,
        signal: AbortSignal.timeout(3_000),
      });
      return res.ok ? res : null;
    } catch {
      return null;
    }
  }

  /** Status updates by status, plus `retries` and `dead` (dead letters), summed over series. */
  async statusCounters(): Promise<Counters | null> {
    const res = await this.get('/metrics');
    if (!res) return null;
    const counters: Counters = {};
    for (const line of (await res.text()).split('\n')) {
      const m = line.match(
        /^(fleet_persister_status_updates_total|fleet_persister_retries_total|fleet_dead_letters_total)(\{[^}]*\})? ([\d.e+]+)$/,
      );
      if (!m) continue;
      const key =
        m[1] === 'fleet_persister_retries_total'
          ? 'retries'
          : m[1] === 'fleet_dead_letters_total'
            ? 'dead'
            : (m[2]?.match(/status="([A-Z]+)"/)?.[1] ?? 'other');
      counters[key] = (counters[key] ?? 0) + Number(m[3]);
    }
    return counters;
  }

  async deadLetters(topic: string): Promise<DeadLetter[] | null> {
    const res = await this.get(`/ops/dead-letters?topic=${encodeURIComponent(topic)}&limit=1000`);
    if (!res) return null;
    return ((await res.json()) as { deadLetters: DeadLetter[] }).deadLetters;
  }
}
