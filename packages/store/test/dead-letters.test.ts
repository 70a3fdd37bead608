import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messages, migratedDatabase, type QueueDb, rowState } from './fixtures.js';

describe('store: dead letters', () => {
  let db: QueueDb;
  beforeAll(async () => {
    db = await migratedDatabase('db_dead');
  });
  afterAll(async () => db?.close());

  const kill = async (n: number, topic: string) => {
    const batch = messages(n, { topic });
    await db.store.persistBatch(batch, []);
    await db.store.applyStatuses(
      batch.map((m) => ({ id: m.id, status: 'DEAD' as const, error: 'unrouted', attempt: 0 })),
    );
    return batch.map((m) => m.id);
  };

  it('lists DEAD rows, optionally by topic', async () => {
    const a = await kill(3, 'dead.a');
    const b = await kill(2, 'dead.b');
    const all = await db.store.listDead({ limit: 100 });
    expect(all.map((m) => m.id).sort()).toEqual([...a, ...b].sort());
    expect(all[0]?.lastError).toBe('unrouted');
    expect((await db.store.listDead({ limit: 100, topic: 'dead.b' })).map((m) => m.id).sort()).toEqual(
      b.sort(),
    );
    expect((await db.store.listDead({ limit: 2 })).length).toBe(2);
  });

  it('counts DEAD rows (by topic too), exactly up to a bound and "at least the bound" past it', async () => {
    // 3 on dead.a and 2 on dead.b from the test above, nothing else DEAD.
    expect(await db.store.countDead({ bound: 1_000 })).toEqual({ n: 5, exact: true });
    expect(await db.store.countDead({ bound: 5 })).toEqual({ n: 5, exact: true });
    expect(await db.store.countDead({ bound: 4 })).toEqual({ n: 4, exact: false });
    expect(await db.store.countDead({ bound: 1_000, topic: 'dead.a' })).toEqual({ n: 3, exact: true });
    expect(await db.store.countDead({ bound: 2, topic: 'dead.a' })).toEqual({ n: 2, exact: false });
    expect(await db.store.countDead({ bound: 1_000, topic: 'nothing.here' })).toEqual({ n: 0, exact: true });
  });

  it('replays chosen DEAD rows as one more attempt, and then all', async () => {
    const dead = (await db.store.listDead({ limit: 100 })).map((m) => m.id);
    const [one] = dead;
    const replayed = await db.store.replayDead([one!, 'not-dead-id']);
    expect(replayed.map((m) => m.id)).toEqual([one]);
    expect(replayed[0]).toMatchObject({ status: 'PENDING', retryCount: 1 });
    expect(replayed[0]!.envelope.length).toBeGreaterThan(0);
    // Outcomes of the old attempt are stale now.
    await db.store.applyStatuses([{ id: one!, status: 'DEAD', error: 'old', attempt: 0 }]);
    expect((await rowState(db.pool, one!))?.status).toBe('PENDING');

    const rest = await db.store.replayDead('all', 2);
    expect(rest.length).toBe(2);
    expect((await db.store.replayDead('all')).length).toBe(dead.length - 3);
    expect(await db.store.listDead({ limit: 100 })).toEqual([]);
    expect(await db.store.replayDead([])).toEqual([]);
  });

  it('purges chosen DEAD rows, then all, leaving other rows alone', async () => {
    const dead = await kill(5, 'dead.purge');
    const [alive] = messages(1);
    await db.store.persistBatch([alive!], []);
    expect(await db.store.purgeDead([dead[0]!, alive!.id])).toBe(1);
    expect(await db.store.purgeDead('all')).toBe(4);
    expect(await db.store.listDead({ limit: 10 })).toEqual([]);
    expect((await rowState(db.pool, alive!.id))?.status).toBe('PENDING');
  });

  it('keeps undecodable stream entries once, with storable text', async () => {
    await db.store.insertDeadEntry('fleet:{ingest}:0', '5-1', 'undecodable envelope', {
      e: 'bin\u0000ary',
      i: 'x',
    });
    await db.store.insertDeadEntry('fleet:{ingest}:0', '5-1', 'again', { e: 'y' });
    await db.store.insertDeadEntry('fleet:{ingest}:0', '5-2', 'missing field e', { i: 'z' });
    const entries = await db.store.listDeadEntries(10);
    expect(entries.length).toBe(2);
    const first = entries.find((e) => e.streamId === '5-1');
    expect(first).toMatchObject({
      stream: 'fleet:{ingest}:0',
      reason: 'undecodable envelope',
      fields: { e: 'bin\uFFFDary', i: 'x' },
    });
  });
});
