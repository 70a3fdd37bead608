// Guarantee: the persister deletes a dead consumer from the group (XGROUP DELCONSUMER) only after its
// pending entries were claimed (DELCONSUMER would drop them: never delivered again), and never deletes a
// live persister's consumer, however idle.
import { EntryField, encodeIngestBatch, PERSISTER_GROUP } from '@fleet/protocol';
import { migrate } from '@fleet/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Persister, startPersister } from '../src/persister.js';
import { listConsumers } from '../src/redis-streams.js';
import { count, envelope, type Harness, harness, memoryLogger, waitUntil } from './harness.js';

/** read_count 100 = one full entry per claim page: the dead consumer's entries take several passes. */
const STREAMS = { read_count: 100, block_ms: 50, claim_idle_ms: 1_000, consumer_ttl_ms: 3_000 };
const DEAD_ENTRIES = 5;
const PER_ENTRY = 100;

describe('dead consumers leave the group only after their entries were claimed, live ones never', () => {
  let h: Harness;
  let p: Persister | undefined;

  beforeAll(async () => {
    h = await harness('delcons', { streams: STREAMS });
    await migrate(h.dbUrl);
  });
  afterAll(async () => {
    await p?.close();
    await h?.close();
  });

  const stream = () => h.keys.ingestStream(0);
  const names = async () => (await listConsumers(h.redis, stream(), PERSISTER_GROUP)).map((c) => c.name);

  /** Entries delivered to `consumer` (pending on it) before any persister can read them: one MULTI. */
  async function deliverTo(consumer: string, entries: number, tag: string): Promise<string[]> {
    const ids: string[] = [];
    const tx = h.redis.multi();
    for (let e = 0; e < entries; e++) {
      const batch = Array.from({ length: PER_ENTRY }, (_, i) => `${tag}-${e}-${i}`);
      ids.push(...batch);
      tx.xadd(
        stream(),
        '*',
        EntryField.batch,
        encodeIngestBatch(batch.map((id) => ({ envelope: envelope(id), id }))),
        EntryField.acceptedAt,
        String(Date.now()),
      );
    }
    tx.xreadgroup('GROUP', PERSISTER_GROUP, consumer, 'COUNT', entries, 'STREAMS', stream(), '>');
    const res = await tx.exec();
    for (const [err] of res ?? []) if (err) throw err;
    return ids;
  }

  /** A persister as the registry sees it: registered, with (alive) or without (dead) its liveness key. */
  async function register(consumer: string, alive: boolean): Promise<void> {
    await h.redis.hset(h.keys.persisterRegistry(), consumer, String(Date.now()));
    if (alive) await h.redis.set(h.keys.persisterAlive(consumer), String(Date.now()), 'PX', 120_000);
  }

  it('claims a dead consumer’s entries page by page, removes it once nothing is pending, keeps a live idle one', async () => {
    await h.redis.xgroup('CREATE', stream(), PERSISTER_GROUP, '0', 'MKSTREAM');
    // A live persister (key renewed by "someone") that holds nothing and reads nothing: idle for the whole test.
    await register('live-idle', true);
    await h.redis.xgroup('CREATECONSUMER', stream(), PERSISTER_GROUP, 'live-idle');
    // A dead persister (registered, no key) holding DEAD_ENTRIES entries: more than one claim page.
    await register('dead-a', false);
    const deadIds = await deliverTo('dead-a', DEAD_ENTRIES, 'dead-a');
    expect((await h.redis.xpending(stream(), PERSISTER_GROUP))[0]).toBe(DEAD_ENTRIES);

    const log = memoryLogger();
    p = await startPersister(h.cfg, { logger: log, ops: false, consumerName: 'heir' });
    // Each removal pass, the entries still pending on dead-a must keep it in the group.
    let removedWithPending = false;
    await waitUntil(
      async () => {
        const consumers = await listConsumers(h.redis, stream(), PERSISTER_GROUP);
        const dead = consumers.find((c) => c.name === 'dead-a');
        if (dead) return false;
        // Gone: every one of its messages must have been claimed (committed by the heir, or still pending on it).
        const committed = await count(h, 'SELECT count(*) AS n FROM messages WHERE id = ANY($1)', [deadIds]);
        const pendingOnHeir = consumers.find((c) => c.name === 'heir')?.pending ?? 0;
        removedWithPending = committed < deadIds.length && pendingOnHeir === 0;
        return true;
      },
      30_000,
      'the dead consumer removed from the group',
    );
    expect(removedWithPending).toBe(false);
    // Nothing was lost with it: every message of its entries arrives.
    await waitUntil(
      async () =>
        (await count(h, 'SELECT count(*) AS n FROM messages WHERE id = ANY($1)', [deadIds])) ===
        deadIds.length,
      30_000,
      "every message of the dead consumer's entries",
    );
    expect(log.lines.some((l) => l.msg === 'dead consumers removed from the group')).toBe(true);

    // A second dead consumer, with nothing pending: the pass that removes it also looked at live-idle,
    // which has been idle (and had nothing pending) the whole time and must still be there.
    await register('dead-b', false);
    await h.redis.xgroup('CREATECONSUMER', stream(), PERSISTER_GROUP, 'dead-b');
    await waitUntil(async () => !(await names()).includes('dead-b'), 30_000, 'dead-b removed');
    // Mutations tried: removalRule returning 0 for a live consumer: live-idle was removed and this
    // failed; removeConsumers without the pending check (neither the `c.pending > 0` skip nor the
    // script's XPENDING): dead-a was removed after the first claim page with four entries still pending
    // on it (gone with it), and `removedWithPending` above was true.
    expect(await names()).toContain('live-idle');
    expect(await names()).toContain('heir');
  }, 90_000);
});
