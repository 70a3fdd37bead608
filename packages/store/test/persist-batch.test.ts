import { decodeEnvelope } from '@fleet/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OffsetUpdate } from '../src/types.js';
import { messages, migratedDatabase, newMessage, type QueueDb } from './fixtures.js';

describe('PersistStore.persistBatch', () => {
  let db: QueueDb;
  beforeAll(async () => {
    db = await migratedDatabase('db_persist');
  });
  afterAll(async () => db?.close());

  const count = async () => Number((await db.pool.query('SELECT count(*) AS n FROM messages')).rows[0].n);

  it('stores every field and reads the exact envelope back', async () => {
    const m = newMessage({
      headers: { a: '1', 'x-y': 'ünïcode' },
      replyTo: 'gw-1|c-9',
      priority: 5,
      timestamp: 1_700_000_000_999,
    });
    const { inserted } = await db.store.persistBatch(
      [m],
      [{ group: 'persister', topic: 'fleet:{ingest}:0', offset: '1-0' }],
    );
    expect(inserted).toEqual([m.id]);
    const [row] = await db.store.readFrom('0', 10);
    expect(row).toMatchObject({
      id: m.id,
      streamId: m.streamId,
      topic: m.topic,
      type: m.type,
      priority: 5,
      timestamp: 1_700_000_000_999,
      headers: { a: '1', 'x-y': 'ünïcode' },
      traceparent: m.traceparent,
      replyTo: 'gw-1|c-9',
      status: 'PENDING',
      retryCount: 0,
    });
    expect(Buffer.compare(row!.envelope, m.envelope)).toBe(0);
    expect(decodeEnvelope(row!.envelope).id).toBe(m.id);
    const trace = await db.pool.query('SELECT trace_id FROM messages WHERE id = $1', [m.id]);
    expect(trace.rows[0].trace_id).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(await db.queue.loadOffset('persister', 'fleet:{ingest}:0')).toBe('1-0');
  });

  it("stores a derived trace mark as the id's full traceparent (trace_id = the id's hex digits)", async () => {
    const id = '0190a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b';
    const m = { ...newMessage({ id }), traceparent: '01' };
    await db.store.persistBatch([m], []);
    const res = await db.pool.query('SELECT traceparent, trace_id FROM messages WHERE id = $1', [id]);
    expect(res.rows[0]).toEqual({
      traceparent: '00-0190a3b4c5d67e8f9a0b1c2d3e4f5a6b-9a0b1c2d3e4f5a6b-01',
      trace_id: '0190a3b4c5d67e8f9a0b1c2d3e4f5a6b',
    });
  });

  it('is idempotent under replays: the same rows twice leave one row each', async () => {
    const batch = messages(500);
    const before = await count();
    const first = await db.store.persistBatch(batch, [{ group: 'g', topic: 's', offset: '10-0' }]);
    expect(first.inserted.sort()).toEqual(batch.map((m) => m.id).sort());
    const replay = await db.store.persistBatch([...batch].reverse(), [
      { group: 'g', topic: 's', offset: '10-0' },
    ]);
    expect(replay.inserted).toEqual([]);
    // Partly new batch: only the new ids are reported.
    const extra = messages(3);
    const mixed = await db.store.persistBatch([...batch.slice(0, 10), ...extra], []);
    expect(mixed.inserted.sort()).toEqual(extra.map((m) => m.id).sort());
    expect(await count()).toBe(before + 503);
  });

  it("concurrent inserts of the same ids meet on the partition's id index: each id once, no half batch left", async () => {
    const batch = messages(50);
    const before = await count();
    expect((await db.store.persistBatch(batch.slice(0, 20), [])).inserted).toHaveLength(20);
    const again = await db.store.persistBatch(batch, [{ group: 'g', topic: 'overlap', offset: '3-0' }]);
    expect(again.inserted.sort()).toEqual(
      batch
        .slice(20)
        .map((m) => m.id)
        .sort(),
    );
    expect(await count()).toBe(before + 50);
    expect(await db.queue.loadOffset('g', 'overlap')).toBe('3-0');
    // Overlapping batches at once: a transaction that meets another's uncommitted id waits, fails with
    // unique_violation, rolls back and runs again (./src/ingest.ts), and the second run skips that id.
    // Mutation tried: ingest without the second run -> a batch failed with duplicate key: this test failed.
    const more = messages(300);
    const results = await Promise.all([
      db.store.persistBatch(more, []),
      db.store.persistBatch([...more].reverse(), []),
      db.store.persistBatch(more.slice(100, 200), []),
    ]);
    const all = results.flatMap((r) => r.inserted);
    expect(all.length).toBe(300);
    expect(new Set(all).size).toBe(300);
    expect(await count()).toBe(before + 350);
  });

  it('counts an id repeated inside one batch once', async () => {
    const m = newMessage();
    const { inserted } = await db.store.persistBatch([m, { ...m }, m], []);
    expect(inserted).toEqual([m.id]);
  });

  it('concurrent overlapping batches (two persisters replaying) insert each id once, without deadlock', async () => {
    const batch = messages(400);
    const before = await count();
    const shuffled = [...batch].sort(() => Math.random() - 0.5);
    const results = await Promise.all([
      db.store.persistBatch(batch, []),
      db.store.persistBatch(shuffled, []),
      db.store.persistBatch(batch.slice(100, 300), []),
    ]);
    const all = results.flatMap((r) => r.inserted);
    expect(all.length).toBe(400);
    expect(new Set(all).size).toBe(400);
    expect(await count()).toBe(before + 400);
  });

  it('saves offsets in the same transaction: a failing statement rolls back the rows too', async () => {
    const batch = messages(20);
    const before = await count();
    const badOffset = { group: 'g', topic: 'atomic', offset: null } as unknown as OffsetUpdate;
    await expect(db.store.persistBatch(batch, [badOffset])).rejects.toThrow(/null value/);
    expect(await count()).toBe(before);
    expect(await db.queue.loadOffset('g', 'atomic')).toBeNull();
    // And the rows failing keeps the offset where it was.
    await db.queue.saveOffset('g', 'atomic2', '5-0');
    const bad = { ...newMessage(), type: null } as unknown as ReturnType<typeof newMessage>;
    await expect(
      db.store.persistBatch([...messages(3), bad], [{ group: 'g', topic: 'atomic2', offset: '9-0' }]),
    ).rejects.toThrow();
    expect(await db.queue.loadOffset('g', 'atomic2')).toBe('5-0');
    expect(await count()).toBe(before);
  });

  it('moves stream-id offsets only forward, comparing numerically', async () => {
    await db.store.persistBatch([], [{ group: 'g', topic: 'fwd', offset: '10-5' }]);
    await db.store.persistBatch([], [{ group: 'g', topic: 'fwd', offset: '9-9' }]);
    expect(await db.queue.loadOffset('g', 'fwd')).toBe('10-5');
    await db.store.persistBatch([], [{ group: 'g', topic: 'fwd', offset: '100-0' }]);
    expect(await db.queue.loadOffset('g', 'fwd')).toBe('100-0');
    // Several offsets for one key in a batch: the furthest wins.
    await db.store.persistBatch(
      [],
      [
        { group: 'g', topic: 'fwd', offset: '200-1' },
        { group: 'g', topic: 'fwd', offset: '1000-0' },
        { group: 'g', topic: 'fwd', offset: '999-7' },
      ],
    );
    expect(await db.queue.loadOffset('g', 'fwd')).toBe('1000-0');
    // saveOffset sets it exactly (a replay may rewind).
    await db.queue.saveOffset('g', 'fwd', '1-0');
    expect(await db.queue.loadOffset('g', 'fwd')).toBe('1-0');
  });

  it('reports rows Postgres cannot store as invalid and stores the rest', async () => {
    const good = newMessage();
    const nulId = { ...newMessage(), id: 'bad\u0000id' };
    const nulHeader = newMessage({ headers: { h: 'a\u0000b' } });
    const res = await db.store.persistBatch([good, nulId, nulHeader], []);
    expect(res.invalid).toEqual(['bad\u0000id']);
    expect(res.inserted.sort()).toEqual([good.id, nulHeader.id].sort());
  });

  it('enqueue() is the single-row form', async () => {
    const m = newMessage();
    expect(await db.queue.enqueue(m)).toBe(true);
    expect(await db.queue.enqueue(m)).toBe(false);
  });

  it('persists 1,000 rows in one call', async () => {
    const batch = messages(1000);
    const { inserted } = await db.store.persistBatch(batch, [{ group: 'g', topic: 'big', offset: '1-1' }]);
    expect(inserted.length).toBe(1000);
  });
});
