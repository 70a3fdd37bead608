import { StatusField } from '@fleet/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toStatusUpdates } from '../src/status-update.js';
import type { StatusUpdate } from '../src/types.js';
import { forceStatus, messages, migratedDatabase, newMessage, type QueueDb, rowState } from './fixtures.js';

describe('store: status changes', () => {
  let db: QueueDb;
  beforeAll(async () => {
    db = await migratedDatabase('db_statuses');
  });
  afterAll(async () => db?.close());

  const fresh = async () => {
    const m = newMessage();
    await db.store.persistBatch([m], []);
    return m.id;
  };
  const state = async (id: string) => rowState(db.pool, id);

  it('markCompleted / markFailed change only rows in a state they may leave', async () => {
    const [a, b, c] = messages(3);
    await db.store.persistBatch([a!, b!, c!], []);
    expect(await db.queue.markFailed([a!.id, b!.id], 'boom')).toBe(2);
    expect(await state(a!.id)).toMatchObject({ status: 'FAILED', last_error: 'boom' });
    expect(await db.queue.markCompleted([a!.id, c!.id, 'missing'])).toBe(2);
    expect((await state(a!.id))?.status).toBe('COMPLETED');
    // COMPLETED is terminal for both.
    expect(await db.queue.markFailed([a!.id], 'late')).toBe(0);
    expect(await db.queue.markCompleted([a!.id])).toBe(0);
    expect(await db.queue.markCompleted([])).toBe(0);
  });

  it('applies PROCESSING -> COMPLETED and never moves a row back from COMPLETED or DEAD', async () => {
    const id = await fresh();
    await db.store.applyStatuses([{ id, status: 'PROCESSING', attempt: 0 }]);
    expect((await state(id))?.status).toBe('PROCESSING');
    await db.store.applyStatuses([{ id, status: 'COMPLETED', attempt: 0 }]);
    await db.store.applyStatuses([
      { id, status: 'PROCESSING', attempt: 0 },
      { id, status: 'FAILED', error: 'x', attempt: 5 },
    ]);
    expect((await state(id))?.status).toBe('COMPLETED');

    const dead = await fresh();
    await db.store.applyStatuses([{ id: dead, status: 'DEAD', error: 'unrouted', attempt: 0 }]);
    await db.store.applyStatuses([{ id: dead, status: 'COMPLETED', attempt: 0 }]);
    expect(await state(dead)).toMatchObject({ status: 'DEAD', last_error: 'unrouted' });
  });

  it('a late PROCESSING of the same attempt does not undo FAILED; COMPLETED of it does win', async () => {
    const id = await fresh();
    await db.store.applyStatuses([{ id, status: 'FAILED', error: 'e1', attempt: 0 }]);
    await db.store.applyStatuses([{ id, status: 'PROCESSING', attempt: 0 }]);
    expect(await state(id)).toMatchObject({ status: 'FAILED', last_error: 'e1' });
    await db.store.applyStatuses([{ id, status: 'COMPLETED', attempt: 0 }]);
    expect((await state(id))?.status).toBe('COMPLETED');
  });

  it('ignores outcomes of attempts older than the row retry_count; a newer attempt moves it', async () => {
    const id = await fresh();
    await db.store.applyStatuses([{ id, status: 'FAILED', error: 'e0', attempt: 0 }]);
    const { requeued } = await db.queue.reprocessFailed(3);
    expect(requeued.find((m) => m.id === id)).toMatchObject({ status: 'PENDING', retryCount: 1 });
    // Stale outcomes of attempt 0 arrive late.
    await db.store.applyStatuses([{ id, status: 'COMPLETED', attempt: 0 }]);
    expect(await state(id)).toMatchObject({ status: 'PENDING', retry_count: 1 });
    await db.store.applyStatuses([{ id, status: 'PROCESSING', attempt: 1 }]);
    await db.store.applyStatuses([{ id, status: 'FAILED', error: 'e1', attempt: 1 }]);
    expect(await state(id)).toMatchObject({ status: 'FAILED', retry_count: 1, last_error: 'e1' });
    // An outcome from a newer attempt than recorded moves it and raises retry_count.
    await db.store.applyStatuses([{ id, status: 'PROCESSING', attempt: 2 }]);
    expect(await state(id)).toMatchObject({ status: 'PROCESSING', retry_count: 2 });
  });

  it('collapses several outcomes for one id in a batch, whatever their order', async () => {
    const [a, b] = [await fresh(), await fresh()];
    const batch: StatusUpdate[] = [
      { id: a, status: 'COMPLETED', attempt: 0 },
      { id: a, status: 'PROCESSING', attempt: 0 },
      { id: b, status: 'PROCESSING', attempt: 0 },
      { id: b, status: 'FAILED', error: 'bad', attempt: 0 },
      { id: b, status: 'PROCESSING', attempt: 0 },
      { id: a, status: 'NOPE' as never, attempt: 0 },
    ];
    expect(await db.store.applyStatuses(batch)).toBe(2);
    expect((await state(a))?.status).toBe('COMPLETED');
    expect(await state(b)).toMatchObject({ status: 'FAILED', last_error: 'bad' });
    expect(await db.store.applyStatuses([])).toBe(0);
  });

  it('concurrent overlapping status batches do not deadlock', async () => {
    const ids = (await db.store.persistBatch(messages(300), [])).inserted;
    const asc = ids.map((id) => ({ id, status: 'PROCESSING' as const, attempt: 0 }));
    const desc = [...ids].reverse().map((id) => ({ id, status: 'COMPLETED' as const, attempt: 0 }));
    await Promise.all([
      db.store.applyStatuses(asc),
      db.store.applyStatuses(desc),
      db.queue.markCompleted([...ids].reverse()),
    ]);
    const res = await db.pool.query(
      `SELECT count(*)::int AS n FROM messages WHERE id = ANY($1) AND status = 'COMPLETED'`,
      [ids],
    );
    expect(res.rows[0].n).toBe(300);
  });

  it('reprocessFailed: under the limit -> PENDING with retry_count + 1 (returned), else DEAD', async () => {
    const [young, old] = [await fresh(), await fresh()];
    await forceStatus(db.pool, [young], 'FAILED', { retryCount: 2 });
    await forceStatus(db.pool, [old], 'FAILED', { retryCount: 3 });
    const { requeued, dead } = await db.queue.reprocessFailed(3);
    const r = requeued.find((m) => m.id === young);
    expect(r).toMatchObject({ status: 'PENDING', retryCount: 3 });
    expect(r?.envelope.length).toBeGreaterThan(0);
    expect(dead).toContain(old);
    expect(await state(old)).toMatchObject({ status: 'DEAD', retry_count: 3 });
    expect(await db.queue.reprocessFailed(3)).toEqual({ requeued: [], dead: [] });
  });

  it('reprocessFailed takes at most `limit` rows per call', async () => {
    const ids = (await db.store.persistBatch(messages(5), [])).inserted;
    await db.queue.markFailed(ids, 'x');
    const first = await db.queue.reprocessFailed(3, 2);
    expect(first.requeued.length).toBe(2);
    const rest = await db.queue.reprocessFailed(3, 100);
    expect(rest.requeued.length).toBe(3);
  });
});

describe('toStatusUpdates', () => {
  it('expands a status-stream entry into one update per message id; null when malformed', () => {
    expect(
      toStatusUpdates({
        [StatusField.ids]: JSON.stringify(['m1', 'm2']),
        [StatusField.status]: 'FAILED',
        [StatusField.error]: 'e',
        [StatusField.attempt]: '2',
      }),
    ).toEqual([
      { id: 'm1', status: 'FAILED', error: 'e', attempt: 2 },
      { id: 'm2', status: 'FAILED', error: 'e', attempt: 2 },
    ]);
    expect(toStatusUpdates({ [StatusField.id]: 'm1', [StatusField.status]: 'COMPLETED' })).toEqual([
      { id: 'm1', status: 'COMPLETED', attempt: 0 },
    ]);
    expect(toStatusUpdates({ [StatusField.id]: 'm1', [StatusField.status]: 'WAT' })).toBeNull();
  });
});
