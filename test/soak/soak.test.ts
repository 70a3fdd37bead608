// Memory soak (npm run soak; not part of npm test): the fleet as real processes (gateway, persister, two
// workers) under steady traffic for SOAK_DURATION_S (default 300 s), sampling each process's RSS
// (/proc/<pid>/status VmRSS) every SOAK_SAMPLE_S (default 5 s). Prints the samples as a table over time and
// asserts no process grows without bound: the mean RSS of the last quarter of the run stays below 1.5x the
// mean of the second quarter (the first quarter is warm-up: JIT, pools, caches filling).
import { readFileSync } from 'node:fs';
import { connect, type FleetClient } from '@fleet/client';
import { appNodeOptions } from '@fleet/services';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestConfig } from '../helpers/config.js';
import { type AppProcess, killAllApps, REPO_ROOT, spawnApp } from '../helpers/processes.js';
import { type FreshDatabase, freshDatabase } from '../helpers/services.js';

const DURATION_S = Number(process.env.SOAK_DURATION_S ?? 300);
const SAMPLE_S = Number(process.env.SOAK_SAMPLE_S ?? 5);
/** Published messages per second (plus one request/reply per second). */
const RATE = Number(process.env.SOAK_RATE ?? 1000);
const GROWTH_LIMIT = 1.5;
const TOPICS = ['order.created', 'order.paid', 'order.eu.shipped', 'cmd.email.send'];
const log = (line: string) => console.log(`[soak] ${line}`);

let db: FreshDatabase;
const apps = new Map<string, AppProcess>();

function rssMb(pid: number | undefined): number {
  try {
    const kb = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m)?.[1];
    return kb ? Math.round(Number(kb) / 102.4) / 10 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

beforeAll(async () => {
  db = await freshDatabase('soak');
  const { path } = await writeTestConfig({
    database: { connection_string: db.url, pool: { max_connections: 4 } },
    logging: { level: 'info' },
    handlers: { modules: [`${REPO_ROOT}/examples/handlers/index.ts`] },
    // Keep the messages table from growing into the measurement: retention runs, but rows stay a week by
    // default; memory of the processes is what is measured, not Postgres.
  });
  const start = async (name: string, app: 'gateway' | 'persister' | 'worker') => {
    // With the node flags production runs them with (APP_NODE_FLAGS: the young generation is part of RSS).
    const proc = spawnApp(app, { config: path, env: { NODE_OPTIONS: appNodeOptions() } });
    apps.set(name, proc);
    await proc.waitReady(90_000);
  };
  await start('persister', 'persister');
  await Promise.all([start('gateway', 'gateway'), start('worker-1', 'worker'), start('worker-2', 'worker')]);
}, 180_000);

afterAll(async () => {
  await Promise.all([...apps.values()].map((a) => a.stop(10_000).catch(() => null)));
  killAllApps();
  await db?.drop().catch(() => {});
}, 60_000);

describe('memory soak', () => {
  it(`keeps every process's RSS bounded under ${RATE} msg/s for ${DURATION_S} s`, async () => {
    const port = Number((await apps.get('gateway')!.waitReady()).match(/"port":(\d+)/)![1]);
    const client: FleetClient = await connect({ host: '127.0.0.1', port, window: 1000 });
    const names = [...apps.keys()];
    const samples: Array<{ t: number; rss: number[] }> = [];
    let published = 0;
    let errors = 0;
    let replies = 0;
    const inflight = new Set<Promise<unknown>>();

    // Steady traffic: RATE/10 publishes every 100 ms and one request a second; never more than 5 s of
    // traffic in flight, so a slow fleet shows as errors, not as memory in this process.
    const started = Date.now();
    let tick = 0;
    const traffic = setInterval(() => {
      tick++;
      if (inflight.size > RATE * 5) return;
      for (let i = 0; i < RATE / 10; i++) {
        const n = published++;
        const p = client
          .publish(
            TOPICS[n % TOPICS.length]!,
            { n },
            n % 4 === 3 ? { headers: { to: `user${n}@example.com` } } : {},
          )
          .catch(() => {
            errors++;
          })
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
      if (tick % 10 === 0) {
        const p = client
          .request('math.add', { a: tick, b: 1 }, { timeoutMs: 10_000 })
          .then(() => {
            replies++;
          })
          .catch(() => {
            errors++;
          })
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
    }, 100);

    const header = ['t_s', ...names.map((n) => `${n}_MB`)];
    log(`sampling RSS every ${SAMPLE_S} s for ${DURATION_S} s; ${header.join('  ')}`);
    while (Date.now() - started < DURATION_S * 1000) {
      await new Promise((r) => setTimeout(r, SAMPLE_S * 1000));
      const t = Math.round((Date.now() - started) / 1000);
      const rss = names.map((n) => rssMb(apps.get(n)!.pid));
      samples.push({ t, rss });
      log(
        `t=${String(t).padStart(4)}s  ${rss.map((r, i) => `${names[i]} ${r} MB`).join('  ')}  | published ${published}, replies ${replies}, errors ${errors}`,
      );
    }
    clearInterval(traffic);
    await Promise.all(inflight);
    await client.close();

    // The table over time, then the check per process.
    console.table(
      samples.map((s) => Object.fromEntries([['t_s', s.t], ...names.map((n, i) => [`${n} MB`, s.rss[i]])])),
    );
    const quarter = (q: number) =>
      samples.slice(Math.floor((samples.length * q) / 4), Math.floor((samples.length * (q + 1)) / 4));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const verdict = names.map((name, i) => {
      const second = mean(quarter(1).map((s) => s.rss[i]!));
      const last = mean(quarter(3).map((s) => s.rss[i]!));
      return {
        process: name,
        q2_mean_mb: Math.round(second),
        q4_mean_mb: Math.round(last),
        ratio: Number((last / second).toFixed(2)),
      };
    });
    console.table(verdict);
    log(`published ${published} messages and ${replies} requests answered, ${errors} errors`);

    // Everything published reached Postgres and completed (a soak that loses messages proves nothing).
    const pgc = new pg.Client({ connectionString: db.url });
    await pgc.connect();
    try {
      const deadline = Date.now() + 60_000;
      let open = -1;
      while (open !== 0 && Date.now() < deadline) {
        const { rows } = await pgc.query<{ n: string }>(
          "SELECT count(*)::text AS n FROM messages WHERE status NOT IN ('COMPLETED', 'DEAD')",
        );
        open = Number(rows[0]!.n);
        if (open) await new Promise((r) => setTimeout(r, 1000));
      }
      expect(open, 'messages not completed 60 s after the traffic stopped').toBe(0);
    } finally {
      await pgc.end();
    }

    expect(samples.length).toBeGreaterThanOrEqual(8);
    expect(errors).toBe(0);
    for (const v of verdict)
      expect(v.ratio, `${v.process} RSS grew from the second to the last quarter`).toBeLessThan(GROWTH_LIMIT);
  });
});
