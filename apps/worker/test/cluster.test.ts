import type { FleetConfig } from '@fleet/config';
import { decodeReply, formatReplyAddress, type JobMessage, type ReplyMessage } from '@fleet/protocol';
import { createRedis, type FleetRedis, onMessage, subscribe } from '@fleet/redis';
import { TopicRouter } from '@fleet/router';
import { type PrivateRedisCluster, startPrivateRedisCluster } from '@fleet/services';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConsumeShardsError, startWorker, type WorkerApp } from '../src/index.js';
import {
  clusterTestConfig,
  type DeepPartialConfig,
  envelope,
  FleetProbe,
  jobMessage,
  sleep,
  waitUntil,
} from './helpers.js';

/*
 * The worker on a private Redis Cluster (3 masters + 3 replicas), streams.shards 6: one BullMQ queue per
 * shard, each in its shard's slot. Each guarantee below was seen to fail once with the code broken on
 * purpose (the mutation is named in the test).
 */
const SHARDS = 6;
let cluster: PrivateRedisCluster;
const apps: WorkerApp[] = [];
const probes: FleetProbe[] = [];
const extra: FleetRedis[] = [];

beforeAll(async () => {
  cluster = await startPrivateRedisCluster();
}, 60_000);
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
  for (const p of probes.splice(0)) await p.close();
  for (const r of extra.splice(0)) r.disconnect();
});
afterAll(async () => {
  await cluster?.dispose();
});

function setup(overrides: DeepPartialConfig = {}): { cfg: FleetConfig; probe: FleetProbe } {
  const cfg = clusterTestConfig(cluster, {
    streams: { shards: SHARDS },
    ...overrides,
  });
  const probe = new FleetProbe(cfg);
  probes.push(probe);
  return { cfg, probe };
}

async function start(cfg: FleetConfig, router: TopicRouter): Promise<WorkerApp> {
  const app = await startWorker(cfg, { router });
  apps.push(app);
  return app;
}

/** One one-message job per message, in shard `shard`'s queue. */
async function enqueueEach(probe: FleetProbe, shard: number, msgs: JobMessage[]): Promise<void> {
  await probe.enqueue(
    msgs.map((m) => [m]),
    shard,
  );
}

describe('worker on a Redis Cluster (6 shards)', () => {
  it('handles the jobs of every shard queue once; each outcome lands in its own shard status stream', async () => {
    // Mutation seen failing: batch.ts wrote every outcome to keys.statusStream(0) (shard 1..5's stream empty).
    const { cfg, probe } = setup({ thread_pools: { work: { workers: 4 } } });
    const calls = new Map<string, number>();
    const router = new TopicRouter();
    router.subscribe(
      'order.#',
      (ctx) => void calls.set(ctx.envelope.id, (calls.get(ctx.envelope.id) ?? 0) + 1),
    );
    await start(cfg, router);

    const byShard = new Map<number, string[]>();
    for (let shard = 0; shard < SHARDS; shard++) {
      const msgs = Array.from({ length: 6 }, () => jobMessage(envelope(`order.s${shard}`)));
      byShard.set(
        shard,
        msgs.map((m) => m.id),
      );
      // Half one message per job, half one job of three.
      await enqueueEach(probe, shard, msgs.slice(0, 3));
      await probe.enqueue([msgs.slice(3)], shard);
    }
    const all = [...byShard.values()].flat();
    await probe.waitForOutcomes(all);

    expect(calls.size).toBe(all.length);
    expect([...calls.values()].every((n) => n === 1)).toBe(true);
    for (const [shard, ids] of byShard) {
      const finals = (await probe.statuses(shard)).filter((s) => s.status !== 'PROCESSING');
      expect(finals.map((s) => s.id).sort(), `status stream of shard ${shard}`).toEqual([...ids].sort());
      expect(finals.every((s) => s.status === 'COMPLETED')).toBe(true);
    }
  });

  it('replies reach an SSUBSCRIBE on the gateway reply channel', async () => {
    // Mutation seen failing: batch.ts sent replies with d.redis.publish() (plain PUBLISH: not heard by SSUBSCRIBE).
    const { cfg, probe } = setup();
    const router = new TopicRouter();
    router.subscribe('math.add', (ctx) => {
      const { a, b } = ctx.json<{ a: number; b: number }>();
      return a + b;
    });
    await start(cfg, router);
    const sub = createRedis(cfg.redis, 'subscriber');
    extra.push(sub);
    const replies: ReplyMessage[] = [];
    onMessage(sub, (_channel, text) => {
      const r = decodeReply(text);
      if (r) replies.push(r);
    });
    await subscribe(sub, probe.keys.replyChannel('gw-1'));

    const ids: string[] = [];
    for (const shard of [1, 4]) {
      const q = envelope('math.add', { a: shard, b: 40 }, { type: 'query' });
      ids.push(q.id);
      await probe.enqueue(
        [[jobMessage(q, { r: formatReplyAddress({ gatewayId: 'gw-1', correlationId: `c-${shard}` }) })]],
        shard,
      );
    }
    await waitUntil(() => replies.length === 2, 10_000, 'two replies');
    expect(replies.map((r) => [r.correlationId, r.ok]).sort()).toEqual([
      ['c-1', true],
      ['c-4', true],
    ]);
    await probe.waitForOutcomes(ids);
  });

  it('queue.consume_shards: consumes only its shards; the other shards jobs stay waiting', async () => {
    // Mutation seen failing: consumedShards() ignored queue.consume_shards (shards 0, 2, 3, 5 consumed too).
    const { cfg, probe } = setup({ queue: { consume_shards: [4, 1] } });
    const router = new TopicRouter();
    router.subscribe('#', () => {});
    const app = await start(cfg, router);
    expect(app.shards).toEqual([1, 4]);

    const byShard = new Map<number, string>();
    for (let shard = 0; shard < SHARDS; shard++) {
      const m = jobMessage(envelope(`t.s${shard}`));
      byShard.set(shard, m.id);
      await probe.enqueue([[m]], shard);
    }
    await probe.waitForOutcomes([byShard.get(1)!, byShard.get(4)!]);
    await sleep(500);
    for (const shard of [0, 2, 3, 5]) {
      expect(await probe.queueOf(shard).getWaitingCount(), `shard ${shard} waiting`).toBe(1);
      expect(await probe.statuses(shard)).toEqual([]);
    }
    for (const shard of [1, 4]) expect(await probe.queueOf(shard).getWaitingCount()).toBe(0);
  });

  it('queue.consume_shards naming a shard the fleet lacks fails at start with one line', async () => {
    const { cfg } = setup({ queue: { consume_shards: [2, 6] } });
    const err = await startWorker(cfg, { router: new TopicRouter() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConsumeShardsError);
    expect((err as Error).message).toBe(
      'queue.consume_shards: 6 not below streams.shards (6): shards are 0..5',
    );
  });

  it('concurrency over the shard Workers never exceeds thread_pools.work.workers; an idle shard does not starve a busy one; a raise applies at once', async () => {
    // Mutation seen failing: no JobGate (each shard Worker ran up to `workers` jobs: max 9+ with 3 configured).
    // Mutation seen failing: setConcurrency without gate.resize (stuck at 3 after the raise to 5).
    const { cfg, probe } = setup({ thread_pools: { work: { workers: 3 } } });
    let running = 0;
    let max = 0;
    let hold: Promise<void> | undefined;
    const router = new TopicRouter();
    router.subscribe('work', async () => {
      running++;
      max = Math.max(max, running);
      try {
        await (hold ?? sleep(100));
      } finally {
        running--;
      }
    });
    const app = await start(cfg, router);

    // Every shard busy: 4 one-message jobs each.
    const ids: string[] = [];
    for (let shard = 0; shard < SHARDS; shard++) {
      const msgs = Array.from({ length: 4 }, () => jobMessage(envelope('work')));
      ids.push(...msgs.map((m) => m.id));
      await enqueueEach(probe, shard, msgs);
    }
    await probe.waitForOutcomes(ids);
    expect(max).toBe(3);

    // Only shard 5 busy, the other five idle: it gets every slot.
    max = 0;
    const lone = Array.from({ length: 9 }, () => jobMessage(envelope('work')));
    await enqueueEach(probe, 5, lone);
    await probe.waitForOutcomes(lone.map((m) => m.id));
    expect(max).toBe(3);

    // Live raise to 5 while 3 held jobs run on shards 0 and 3: two more start now, never a sixth.
    let release!: () => void;
    hold = new Promise<void>((r) => {
      release = r;
    });
    max = 0;
    const held = Array.from({ length: 8 }, () => jobMessage(envelope('work')));
    await enqueueEach(probe, 0, held.slice(0, 4));
    await enqueueEach(probe, 3, held.slice(4));
    await waitUntil(() => running === 3, 5_000, '3 running');
    app.setConcurrency(5);
    await waitUntil(() => running === 5, 5_000, '5 running after the raise');
    await sleep(200);
    expect(max).toBe(5);
    release();
    hold = undefined;
    await probe.waitForOutcomes(held.map((m) => m.id));
    expect(max).toBe(5);
  });

  it('close() with jobs in flight hands them back to their shard queues and stops every shard Worker', async () => {
    // Mutation seen failing: close() closed only the first shard Worker (shards 1..5 still had a Worker
    // connected; the gate, closed, kept them from taking jobs).
    const { cfg, probe } = setup({
      thread_pools: { work: { workers: 4 } },
      handlers: { shutdown_timeout_ms: 300, timeout_ms: 30_000 },
    });
    const started = new Set<string>();
    const router = new TopicRouter();
    router.subscribe('stuck', (ctx) => {
      started.add(ctx.envelope.id);
      return new Promise(() => {}); // ignores its signal on purpose
    });
    const app = await start(cfg, router);
    const byShard = new Map<number, string>();
    for (let shard = 0; shard < SHARDS; shard++) {
      const m = jobMessage(envelope('stuck'));
      byShard.set(shard, m.id);
      await probe.enqueue([[m]], shard);
    }
    await waitUntil(() => started.size === 4, 5_000, '4 jobs in flight');
    await sleep(200);
    expect(started.size).toBe(4); // the gate: 4 of the 6 run
    const workersOn = () =>
      Promise.all(probe.keys.shardList().map((n) => probe.queueOf(n).getWorkersCount()));
    expect(await workersOn()).toEqual([1, 1, 1, 1, 1, 1]);

    await app.close();
    expect(await workersOn()).toEqual([0, 0, 0, 0, 0, 0]);
    apps.splice(apps.indexOf(app), 1);
    expect((await probe.statuses()).filter((s) => s.status !== 'PROCESSING')).toEqual([]);
    for (const [shard, id] of byShard) {
      const waiting = await probe.queueOf(shard).getWaiting();
      expect(
        waiting.map((j) => j.data.messages.map((m: { id: string }) => m.id)),
        `shard ${shard}`,
      ).toEqual([[id]]);
    }
    // Nothing consumes any more.
    for (let shard = 0; shard < SHARDS; shard++)
      await probe.enqueue([[jobMessage(envelope('stuck'))]], shard);
    await sleep(500);
    for (let shard = 0; shard < SHARDS; shard++)
      expect(await probe.queueOf(shard).getWaitingCount(), `shard ${shard}`).toBe(2);
    expect(started.size).toBe(4);
  });
});
