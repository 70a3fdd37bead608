import { decodeDurableIds, EntryField, encodeIngestBatch, PERSISTER_GROUP } from '@fleet/protocol';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisUrl } from '../../../test/helpers/services.js';
import { type Persister, startPersister } from '../src/persister.js';
import { groupState } from '../src/redis-streams.js';
import {
  allJobs,
  bullQueue,
  count,
  envelope,
  type Harness,
  harness,
  memoryLogger,
  publish,
  waitUntil,
} from './harness.js';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('persister: stream -> Postgres + offsets + BullMQ jobs', () => {
  let h: Harness;
  let p: Persister;
  let q: Queue;
  const log = memoryLogger();

  beforeAll(async () => {
    h = await harness('flow', { queue: { batch_size: 10 } });
    p = await startPersister(h.cfg, { logger: log, ops: false, consumerName: 'flow-a' });
    q = bullQueue(h);
  });
  afterAll(async () => {
    await p?.close();
    await q?.close();
    await h?.close();
  });

  it('persists every entry once, saves the offset and enqueues batched jobs', async () => {
    const ids = Array.from({ length: 35 }, (_, i) => `flow-${i}`);
    const streamIds = await publish(h, ids);
    await waitUntil(
      async () => (await count(h, 'SELECT count(*) AS n FROM messages')) === 35,
      20_000,
      'rows',
    );
    await waitUntil(
      async () => (await h.redis.xpending(h.keys.ingestStream(0), PERSISTER_GROUP))[0] === 0,
      10_000,
      'acks',
    );
    const off = await h.pool.query(
      'SELECT "offset" FROM consumer_offsets WHERE consumer_group = $1 AND topic = $2',
      [PERSISTER_GROUP, h.keys.ingestStream(0)],
    );
    expect(off.rows[0]?.offset).toBe(streamIds.at(-1));
    const jobs = await allJobs(q);
    const jobbed = jobs.flatMap((j) => j.ids).sort();
    expect(jobbed).toEqual([...ids].sort());
    for (const j of jobs) expect(j.ids.length).toBeLessThanOrEqual(10);
    const row = await h.pool.query('SELECT status, topic, retry_count FROM messages WHERE id = $1', [
      'flow-3',
    ]);
    expect(row.rows[0]).toMatchObject({ status: 'PENDING', topic: 'orders.created', retry_count: 0 });
  });

  it('a replay of the same entries adds no rows and no jobs', async () => {
    const before = (await allJobs(q)).length;
    const duplicates = async () => (await p.metrics.duplicates.get()).values[0]?.value ?? 0;
    const dupBefore = await duplicates();
    // The same messages arrive again (a client resend / a re-read after a crash): new stream entries, same ids.
    await publish(h, ['flow-1', 'flow-2', 'flow-20']);
    // The batch is done, not just read: its duplicates are counted after persist + enqueue, and the XACK
    // comes after that (so no fixed wait for a straggling insert or job is needed).
    await waitUntil(async () => (await duplicates()) === dupBefore + 3, 10_000, 'the replay batch handled');
    await waitUntil(
      async () => (await h.redis.xpending(h.keys.ingestStream(0), PERSISTER_GROUP))[0] === 0,
      10_000,
      'acks',
    );
    expect((await groupState(h.redis, h.keys.ingestStream(0), PERSISTER_GROUP))?.lag).toBe(0);
    // Mutation tried: dispatchNew(rows) instead of dispatchNew(fresh) in persistAndDispatch: the replayed
    // ids got a job again and the job count below grew.
    expect(await count(h, 'SELECT count(*) AS n FROM messages')).toBe(35);
    expect((await allJobs(q)).length).toBe(before);
  });

  it('publishes durable notifications after the commit, duplicates included', async () => {
    const sub = new Redis(redisUrl());
    const got: string[] = [];
    sub.on('messageBuffer', (_ch: Buffer, msg: Buffer) => got.push(...decodeDurableIds(msg)));
    await sub.subscribe(h.keys.durableChannel('gw-1'));
    await publish(h, ['dur-1', 'dur-2', 'flow-5'], { durable: 'gw-1' });
    await waitUntil(() => got.length >= 3, 10_000, 'durable notification');
    expect(got.sort()).toEqual(['dur-1', 'dur-2', 'flow-5']);
    // committed before notified
    expect(
      await count(h, 'SELECT count(*) AS n FROM messages WHERE id = ANY($1)', [['dur-1', 'dur-2']]),
    ).toBe(2);
    sub.disconnect();
  });

  it('dead-letters bad entries with a reason and keeps the stream flowing', async () => {
    const stream = h.keys.ingestStream(0);
    await h.redis.xadd(stream, '*', EntryField.id, 'no-envelope');
    await h.redis.xadd(stream, '*', EntryField.envelope, Buffer.from([1, 2, 3]), EntryField.id, 'garbage');
    await publish(h, ['after-bad'], { legacy: true });
    await waitUntil(
      async () => (await count(h, 'SELECT count(*) AS n FROM messages WHERE id = $1', ['after-bad'])) === 1,
      10_000,
      'row after bad',
    );
    const dead = await h.pool.query('SELECT reason FROM dead_entries ORDER BY stream_id');
    expect(dead.rows.length).toBe(2);
    expect(dead.rows[0].reason).toMatch(/missing field/);
    expect(dead.rows[1].reason).toMatch(/undecodable envelope/);
    await waitUntil(async () => (await h.redis.xpending(stream, PERSISTER_GROUP))[0] === 0, 10_000, 'acks');
  });

  it('persists the good messages of a batch entry and dead-letters a bad one under <entry id>/<index>', async () => {
    const stream = h.keys.ingestStream(0);
    const batch = encodeIngestBatch([
      { envelope: envelope('batch-a'), id: 'batch-a' },
      { envelope: Buffer.from([9, 9, 9]), id: 'batch-bad' },
      { envelope: envelope('batch-c'), id: 'batch-other-id' },
      { envelope: envelope('batch-d'), id: 'batch-d', traceparent: TRACEPARENT },
    ]);
    const entryId = await h.redis.xadd(stream, '*', EntryField.batch, batch, EntryField.acceptedAt, '1');
    await h.redis.xadd(
      stream,
      '*',
      EntryField.batch,
      Buffer.from([1, 0, 0, 0, 1, 0, 0]),
      EntryField.acceptedAt,
      '1',
    );
    await publish(h, ['after-bad-batch'], { legacy: true });
    await waitUntil(
      async () =>
        (await count(h, 'SELECT count(*) AS n FROM messages WHERE id = $1', ['after-bad-batch'])) === 1,
      10_000,
      'row after bad batch',
    );
    const rows = await h.pool.query(
      "SELECT id, stream_id, traceparent FROM messages WHERE id LIKE 'batch-%' ORDER BY id",
    );
    expect(rows.rows).toEqual([
      { id: 'batch-a', stream_id: entryId, traceparent: null },
      { id: 'batch-d', stream_id: entryId, traceparent: TRACEPARENT },
    ]);
    const dead = await h.pool.query(
      'SELECT stream_id, reason, fields FROM dead_entries WHERE stream_id LIKE $1 OR reason LIKE $2 ORDER BY stream_id',
      [`${entryId}/%`, 'record 0%'],
    );
    expect(dead.rows.map((r) => [r.stream_id, r.reason.split(':')[0]])).toEqual([
      [`${entryId}/1`, 'undecodable envelope'],
      [`${entryId}/2`, "id field 'batch-other-id' differs from the envelope id 'batch-c'"],
      [expect.stringMatching(/^\d+-\d+$/), 'record 0'],
    ]);
    expect(dead.rows[0].fields).toMatchObject({ i: 'batch-bad', e: 'base64:CQkJ' });
    await waitUntil(async () => (await h.redis.xpending(stream, PERSISTER_GROUP))[0] === 0, 10_000, 'acks');
  });

  it('trims the stream only below what the group acknowledged', async () => {
    const stream = h.keys.ingestStream(0);
    await waitUntil(async () => (await h.redis.xlen(stream)) === 0, 10_000, 'trim');
  });
});
