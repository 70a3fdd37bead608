import { openOpsContext, replayDeadLetters } from '@fleet/dispatch';
import { decodeDurableIds, encodeStatusEntry, MessageStatus, PERSISTER_GROUP } from '@fleet/protocol';
import { createRedis, type FleetRedis, onMessage, subscribe } from '@fleet/redis';
import { type PrivateRedisCluster, startPrivateRedisCluster } from '@fleet/services';
import type { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Persister, startPersister } from '../src/persister.js';
import {
  allJobs,
  bullQueues,
  count,
  type Harness,
  harness,
  memoryLogger,
  publish,
  waitUntil,
} from './harness.js';

// The persister on a private Redis Cluster (3 masters + 3 replicas), 8 shards spread over the masters:
// a reader per shard stream, one BullMQ queue per shard, durable notices on sharded pub/sub, N persisters
// sharing the shards, and /readyz following the stream reads.
//
// Each guarantee below was seen to fail once with the code broken on purpose (then restored):
// - jobs in the read shard's queue: ingest-consumer dispatched every batch to shard 0
//   (`this.shardOfStream.get(...) ?? 0` replaced by `0`): shard 0's queue held shard 1's messages.
// - status on every shard: persister.ts read only shard 0's status stream
//   (`loopsOf(keys.statusStreams().slice(0, 1), 1)`): rows of shards 1..7 stayed PENDING.
// - re-dispatch by topic: Dispatcher.byTopicShard put every row in shard 0 (`const s = 0`): retry and
//   replay jobs of other topics' shards sat in queue 0.
// - durable notices: durable-notifier sent PUBLISH instead of publishMany (SPUBLISH on a cluster): the
//   SSUBSCRIBEd gateway channel heard nothing.
// - two persisters: ingest-consumer used a group per consumer (`PERSISTER_GROUP + d.consumer`): both
//   persisters read every entry (800 duplicates counted: each row met twice).
// - failover: a reader loop that ended on a failed read (`if (readFailed) break;` in its catch): the
//   rows appended to the failed master's shards after the failover never arrived.
// - /readyz: the `stream-reads` check removed from the readiness callback: /readyz stayed 200 while one
//   shard's reads failed.
const SHARDS = 8;
const PER_SHARD = 30;

let cluster: PrivateRedisCluster;
beforeAll(async () => {
  cluster = await startPrivateRedisCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.dispose();
});

const clusterOverrides = () => ({
  redis: { mode: 'cluster' as const, url: cluster.urls[0]!, nodes: cluster.urls },
  streams: { shards: SHARDS, read_count: 100 },
  queue: { batch_size: 10 },
});

/** The ids published on shard n: `<tag>-s<n>-<i>`, all of one topic (its own shard differs from most n). */
const idsOf = (tag: string, n: number, k = PER_SHARD) =>
  Array.from({ length: k }, (_, i) => `${tag}-s${n}-${i}`);

async function enqueued(p: Persister): Promise<number> {
  return (await p.metrics.messagesEnqueued.get()).values[0]?.value ?? 0;
}
async function persisted(p: Persister): Promise<number> {
  return (await p.metrics.messagesPersisted.get()).values.reduce((a, v) => a + v.value, 0);
}
async function duplicates(p: Persister): Promise<number> {
  return (await p.metrics.duplicates.get()).values[0]?.value ?? 0;
}

describe('persister on a Redis Cluster (8 shards)', () => {
  let h: Harness | undefined;
  const persisters: Persister[] = [];
  const queues: Queue[] = [];
  const extra: FleetRedis[] = [];
  const start = async (name: string) => {
    const p = await startPersister(h!.cfg, { logger: memoryLogger(), consumerName: name, opsPort: 0 });
    persisters.push(p);
    return p;
  };
  afterEach(async () => {
    for (const p of persisters.splice(0)) await p.close();
    for (const q of queues.splice(0)) await q.close();
    for (const r of extra.splice(0)) r.disconnect();
    await h?.close();
    h = undefined;
  });

  it('the shards spread over the masters', async () => {
    h = await harness('cl_spread', clusterOverrides());
    const slotsOf = new Set<string>();
    for (const n of h.keys.shardList()) {
      // The shard's ingest, status and queue keys share one slot.
      const slot = await h.redis.call('CLUSTER', 'KEYSLOT', h.keys.ingestStream(n));
      expect(await h.redis.call('CLUSTER', 'KEYSLOT', h.keys.statusStream(n))).toBe(slot);
      expect(await h.redis.call('CLUSTER', 'KEYSLOT', `${h.keys.bullPrefix(n)}:messages:wait`)).toBe(slot);
      slotsOf.add(String(slot));
    }
    expect(slotsOf.size).toBe(SHARDS);
  });

  it("entries of every shard's ingest stream become rows and jobs in that shard's queue only; every shard's status stream is applied", async () => {
    h = await harness('cl_flow', clusterOverrides());
    const p = await start('cl-flow');
    queues.push(...bullQueues(h));
    const all: string[] = [];
    for (const n of h.keys.shardList()) {
      const ids = idsOf('flow', n);
      all.push(...ids);
      await publish(h, ids, { shard: n, perEntry: 7 });
    }
    await waitUntil(
      async () => (await count(h!, 'SELECT count(*) AS n FROM messages')) === all.length,
      30_000,
      'rows of every shard',
    );
    await waitUntil(async () => (await enqueued(p)) === all.length, 10_000, 'every row enqueued');
    // Each job's messages all come from the shard whose queue holds it; every id in exactly one job.
    const jobbed: string[] = [];
    for (const n of h.keys.shardList()) {
      const jobs = await allJobs(queues[n]!);
      expect(jobs.length, `jobs of shard ${n}`).toBeGreaterThan(0);
      for (const j of jobs)
        for (const id of j.ids) expect(id, `job ${j.id} of shard ${n}`).toMatch(`-s${n}-`);
      const ids = jobs.flatMap((j) => j.ids);
      expect(new Set(ids)).toEqual(new Set(idsOf('flow', n)));
      jobbed.push(...ids);
    }
    expect(jobbed).toHaveLength(all.length);

    // Outcomes on each shard's own status stream (as workers of that shard's queue write them).
    for (const n of h.keys.shardList())
      await h.redis.xadd(
        h.keys.statusStream(n),
        '*',
        ...encodeStatusEntry({
          ids: idsOf('flow', n),
          status: MessageStatus.COMPLETED,
          attempt: 0,
          at: Date.now(),
        }),
      );
    await waitUntil(
      async () =>
        (await count(h!, "SELECT count(*) AS n FROM messages WHERE status = 'COMPLETED'")) === all.length,
      20_000,
      'every shard’s outcomes applied',
    );
    // Bull Board lists every shard's queue (one name each), and shows each queue's own jobs.
    const api = await fetch(`${p.opsUrl}/ops/queues/api/queues`);
    const board = (await api.json()) as { queues: { name: string; counts: Record<string, number> }[] };
    expect(board.queues.map((q) => q.name).sort()).toEqual(
      h.keys
        .shardList()
        .map((n) => `s${n}-${h!.cfg.queue.name}`)
        .sort(),
    );
    // Every reader acknowledged per stream: nothing left pending anywhere.
    for (const n of h.keys.shardList())
      expect(Number((await h.redis.xpending(h.keys.ingestStream(n), PERSISTER_GROUP))[0])).toBe(0);
  });

  it("rows re-dispatched from Postgres (retries, dead-letter replays via the CLI's ops context) go to the queue of their topic's shard", async () => {
    h = await harness('cl_topic', {
      ...clusterOverrides(),
      retry: { max_retries: 3, backoff_ms: 60_000, backoff_max_ms: 60_000 },
    });
    await start('cl-topic');
    queues.push(...bullQueues(h));
    // 16 topics, all published on shard 0 (a partition key put them there): first jobs in queue 0.
    const topicOf = new Map<string, string>();
    for (let t = 0; t < 16; t++) {
      const ids = [`top-${t}-a`, `top-${t}-b`];
      for (const id of ids) topicOf.set(id, `topic.${t}`);
      await publish(h, ids, { shard: 0, topic: `topic.${t}` });
    }
    const all = [...topicOf.keys()];
    await waitUntil(
      async () => (await count(h!, 'SELECT count(*) AS n FROM messages')) === all.length,
      20_000,
      'rows',
    );
    const failed = all.filter((id) => id.endsWith('-a'));
    const dead = all.filter((id) => id.endsWith('-b'));
    await h.redis.xadd(
      h.keys.statusStream(0),
      '*',
      ...encodeStatusEntry({
        ids: failed,
        status: MessageStatus.FAILED,
        attempt: 0,
        at: Date.now(),
        error: 'x',
      }),
    );
    await h.redis.xadd(
      h.keys.statusStream(0),
      '*',
      ...encodeStatusEntry({ ids: dead, status: MessageStatus.DEAD, attempt: 0, at: Date.now(), error: 'x' }),
    );
    await waitUntil(
      async () =>
        (await count(h!, "SELECT count(*) AS n FROM messages WHERE status = 'DEAD'")) === dead.length,
      20_000,
      'dead rows',
    );
    const ctx = openOpsContext(h.cfg);
    try {
      expect(await replayDeadLetters(ctx.store, ctx.dispatcher, 'all')).toHaveLength(dead.length);
    } finally {
      await ctx.close();
    }
    const shardsUsed = new Set<number>();
    const seen = { r: [] as string[], d: [] as string[] };
    await waitUntil(
      async () => {
        seen.r = [];
        seen.d = [];
        for (const n of h!.keys.shardList())
          for (const j of await allJobs(queues[n]!)) {
            const kind = j.id.slice(0, 1);
            if (kind !== 'r' && kind !== 'd') continue;
            for (const id of j.ids) {
              expect(h!.keys.shardOf(topicOf.get(id)!), `${j.id} in queue ${n} holds ${id}`).toBe(n);
              shardsUsed.add(n);
              seen[kind].push(id);
            }
          }
        return seen.r.length === failed.length && seen.d.length === dead.length;
      },
      20_000,
      'retry and replay jobs',
    );
    expect(new Set(seen.r)).toEqual(new Set(failed));
    expect(new Set(seen.d)).toEqual(new Set(dead));
    expect(shardsUsed.size).toBeGreaterThan(1);
  });

  it('durable notices reach a gateway channel over SSUBSCRIBE', async () => {
    h = await harness('cl_durable', clusterOverrides());
    const sub = createRedis(h.cfg.redis, 'subscriber');
    extra.push(sub);
    const heard = new Set<string>();
    onMessage(sub, (channel, message) => {
      if (channel === h!.keys.durableChannel('gw-a'))
        for (const id of decodeDurableIds(message)) heard.add(id);
    });
    await subscribe(sub, h.keys.replyChannel('gw-a'), h.keys.durableChannel('gw-a'));
    await start('cl-durable');
    const ids: string[] = [];
    for (const n of [0, 3, 5, 7]) {
      const list = idsOf('dur', n, 5);
      ids.push(...list);
      await publish(h, list, { shard: n, durable: 'gw-a' });
    }
    await waitUntil(() => ids.every((id) => heard.has(id)), 20_000, 'durable notices of every id');
  });

  it('two persisters share the 8 shards; nothing is stored twice', async () => {
    h = await harness('cl_two', clusterOverrides());
    const [a, b] = await Promise.all([start('cl-two-a'), start('cl-two-b')]);
    queues.push(...bullQueues(h));
    const all: string[] = [];
    for (let round = 0; round < 5; round++)
      for (const n of h.keys.shardList()) {
        const ids = idsOf(`two${round}`, n, 20);
        all.push(...ids);
        await publish(h, ids, { shard: n, perEntry: 4 });
      }
    await waitUntil(
      async () => (await count(h!, 'SELECT count(*) AS n FROM messages')) === all.length,
      30_000,
      'rows',
    );
    await waitUntil(async () => (await enqueued(a)) + (await enqueued(b)) === all.length, 10_000, 'enqueue');
    const jobbed: string[] = [];
    for (const q of queues) jobbed.push(...(await allJobs(q)).flatMap((j) => j.ids));
    expect(jobbed).toHaveLength(all.length);
    expect(new Set(jobbed).size).toBe(all.length);
    // Each entry was read by one of them: no row met twice, and both did work.
    expect((await persisted(a)) + (await persisted(b))).toBe(all.length);
    expect((await duplicates(a)) + (await duplicates(b))).toBe(0);
    expect(await persisted(a)).toBeGreaterThan(0);
    expect(await persisted(b)).toBeGreaterThan(0);
  });

  it('a master killed mid-run: its replica takes over and the readers of its shards read on', async () => {
    // A cluster of its own: this one loses a master.
    const own = await startPrivateRedisCluster();
    try {
      h = await harness('cl_failover', {
        ...clusterOverrides(),
        redis: { mode: 'cluster' as const, url: own.urls[0]!, nodes: own.urls },
      });
      const p = await start('cl-failover');
      const before = h.keys.shardList().flatMap((n) => idsOf('fo1', n, 5));
      for (const n of h.keys.shardList()) await publish(h, idsOf('fo1', n, 5), { shard: n });
      await waitUntil(
        async () => (await count(h!, 'SELECT count(*) AS n FROM messages')) === before.length,
        20_000,
        'rows before the failover',
      );
      // A replica that never synced refuses to fail over (cluster-replica-validity-factor): wait for every
      // replica's link (seconds after the cluster says ok).
      await waitUntil(
        async () => {
          for (const n of own.nodes) {
            const r = createRedis({ url: n.url, mode: 'standalone', nodes: [], nat_map: {} }, 'admin');
            r.on('error', () => {});
            const info = await r.info('replication').finally(() => r.disconnect());
            if (/role:slave/.test(info) && !/master_link_status:up/.test(info)) return false;
          }
          return true;
        },
        30_000,
        'every replica in sync',
      );
      // The master serving shard 0's slot dies (SIGKILL); its replica is promoted within seconds.
      const slot = Number(await h.redis.call('CLUSTER', 'KEYSLOT', h.keys.ingestStream(0)));
      const master = (await own.topology()).find(
        (t) => t.role === 'master' && !t.failed && t.slots.some(([a, b]) => slot >= a && slot <= b),
      )!;
      await own.node(master.port).kill();
      await own.waitHealthy(30_000);
      const after = h.keys.shardList().flatMap((n) => idsOf('fo2', n, 5));
      for (const n of h.keys.shardList())
        await waitUntil(
          () =>
            publish(h!, idsOf('fo2', n, 5), { shard: n }).then(
              () => true,
              () => false,
            ),
          20_000,
          `an append to shard ${n} after the failover`,
        );
      await waitUntil(
        async () =>
          (await count(h!, "SELECT count(*) AS n FROM messages WHERE id LIKE 'fo2-%'")) === after.length,
        30_000,
        'rows of every shard after the failover',
      );
      await waitUntil(
        async () => (await fetch(`${p.opsUrl}/readyz`)).status === 200,
        15_000,
        'ready after the failover',
      );
    } finally {
      for (const p of persisters.splice(0)) await p.close();
      await h?.close().catch(() => {});
      h = undefined;
      await own.dispose();
    }
  }, 120_000);

  it('/readyz turns not-ready while one shard stream’s reads keep failing, and ready again after', async () => {
    h = await harness('cl_ready', clusterOverrides());
    const p = await start('cl-ready');
    const readyz = async () => {
      const res = await fetch(`${p.opsUrl}/readyz`);
      return { code: res.status, body: (await res.json()) as { failing?: string[] } };
    };
    await waitUntil(async () => (await readyz()).code === 200, 10_000, 'ready');
    // Reads of shard 5's ingest stream fail (WRONGTYPE: the key is no stream any more) while Redis
    // answers PING and the other seven readers keep reading.
    const stream = h.keys.ingestStream(5);
    await h.redis.del(stream);
    await h.redis.set(stream, 'not a stream');
    await waitUntil(
      async () => {
        const r = await readyz();
        return r.code === 503 && (r.body.failing ?? []).includes('stream-reads');
      },
      15_000,
      'not ready (stream-reads)',
    );
    const r = await readyz();
    expect(r.body.failing).toEqual(['stream-reads']); // Redis itself answers
    expect(p.readsFailing()?.streams).toEqual([stream]);
    // Repaired: the key removed; the reader (NOGROUP) creates the stream and its group again, reads
    // again, and the persister is ready.
    await h.redis.del(stream);
    await waitUntil(async () => (await readyz()).code === 200, 15_000, 'ready again');
    await publish(h, ['after-repair'], { shard: 5 });
    await waitUntil(
      async () => (await count(h!, "SELECT count(*) AS n FROM messages WHERE id = 'after-repair'")) === 1,
      10_000,
      'a row read from the repaired stream',
    );
  });
});
