import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ConfigWatcher } from '@fleet/config';
import { TopicRouter } from '@fleet/router';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { writeTestConfig } from '../../../test/helpers/config.js';
import { cleanupRedisPrefix } from '../../../test/helpers/services.js';
import { startWorker, type WorkerApp } from '../src/index.js';
import { envelope, FleetProbe, jobMessage, waitUntil } from './helpers.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));

describe('live config changes', () => {
  let path: string;
  let watcher: ConfigWatcher;
  let app: WorkerApp;
  let probe: FleetProbe;
  let running = 0;
  /** Jobs that started while the concurrency in force was already taken (must stay 0). */
  const overBound: number[] = [];
  const logs: Array<{ msg?: string }> = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });

  type Doc = { thread_pools: { work: { workers: number } }; handlers: { modules: string[] } };
  async function edit(change: (ms: Doc) => void): Promise<void> {
    const doc = parse(await readFile(path, 'utf8'));
    change(doc.messaging_system);
    await writeFile(path, stringify(doc));
  }

  beforeAll(async () => {
    const written = await writeTestConfig({
      logging: { level: 'silent' },
      monitoring: { enabled: false },
      thread_pools: { work: { workers: 2 } },
      handlers: { modules: [`${fixtures}good.ts`] },
    });
    path = written.path;
    watcher = new ConfigWatcher(path, { logger: { info() {}, warn() {}, error() {} } });
    await watcher.ready();
    const base = new TopicRouter();
    base.subscribe('gate.#', async () => {
      running++;
      // Checked at every start against the config in force, so no wait can miss one.
      if (running > app.config().thread_pools.work.workers) overBound.push(running);
      await gate;
      running--;
    });
    // Info lines captured: a rejected handler reload is an event the test can wait on.
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    app = await startWorker(watcher.current, { watcher, logger, handlersBaseDir: written.dir, router: base });
    probe = new FleetProbe(watcher.current);
  });

  afterAll(async () => {
    await app?.close();
    await watcher?.stop();
    await probe?.close();
    if (watcher) await cleanupRedisPrefix(watcher.current.redis.key_prefix);
  });

  it('changes BullMQ concurrency when thread_pools.work.workers changes', async () => {
    expect(app.concurrency).toBe(2);
    await edit((ms) => {
      ms.thread_pools.work.workers = 7;
    });
    await waitUntil(() => app.concurrency === 7, 5_000, 'concurrency 7');
    await edit((ms) => {
      ms.thread_pools.work.workers = 3;
    });
    await waitUntil(() => app.concurrency === 3, 5_000, 'concurrency 3');
  });

  // No pause-then-look: every start is checked as it happens (overBound), through the raise to 5 and the
  // release of all 8 jobs. Mutation checked: BullMQ given one slot more than asked when lowering (n + 1,
  // app.concurrency still reporting the config): a fourth job started under 3 and this test failed.
  it('the new concurrency bounds the jobs running at once', async () => {
    const jobs = Array.from({ length: 8 }, () => [jobMessage(envelope('gate.x'))]);
    await probe.enqueue(jobs);
    await waitUntil(() => running === 3, 5_000, '3 running jobs');
    // The other 5 are waiting in the queue, free to be taken: only the concurrency holds them back.
    await waitUntil(async () => (await probe.queue.getWaitingCount()) === 5, 5_000, '5 waiting jobs');
    await edit((ms) => {
      ms.thread_pools.work.workers = 5;
    });
    await waitUntil(() => running === 5, 5_000, '5 running jobs');
    release();
    await probe.waitForOutcomes(jobs.map((j) => j[0]!.id));
    expect(overBound).toEqual([]);
  });

  it('a broken handler list keeps the running set; a good one replaces it', async () => {
    const before = app.router();
    await edit((ms) => {
      ms.handlers.modules = [`${fixtures}good.ts`, `${fixtures}bad-pattern.ts`];
    });
    await waitUntil(() => app.config().handlers.modules.length === 2, 5_000, 'config reload');
    // The reload runs async after the config swap: wait for its verdict, then check the set in force.
    await waitUntil(
      () => logs.some((l) => l.msg?.startsWith('handler reload rejected')),
      5_000,
      'the handler reload rejected',
    );
    expect(app.router()).toBe(before);
    // still serving with the old set
    const m = jobMessage(envelope('fixture.a'));
    await probe.enqueue([[m]]);
    expect((await probe.waitForOutcomes([m.id])).get(m.id)![0]!.status).toBe('COMPLETED');

    await edit((ms) => {
      ms.handlers.modules = [`${fixtures}named.ts`];
    });
    await waitUntil(() => app.router() !== before, 5_000, 'router swap');
    expect(
      app
        .router()
        .subscriptions()
        .map((s) => s.pattern),
    ).toEqual(['gate.#', 'named.*']);
    const n = jobMessage(envelope('named.x'));
    const f = jobMessage(envelope('fixture.a'));
    await probe.enqueue([[n, f]]);
    const out = await probe.waitForOutcomes([n.id, f.id]);
    expect(out.get(n.id)![0]!.status).toBe('COMPLETED');
    expect(out.get(f.id)![0]).toMatchObject({ status: 'DEAD', error: 'unrouted' });
  });
});
