// Guarantee: an entry pending on a live persister's own consumer without a batch in hand (delivered by a
// read whose reply never reached the process, as after a redis-server restart) is persisted within seconds,
// not left until that persister restarts (peers never claim a live consumer's entries).
// Mutation checked: with the leader's claim pass not taking back its own idle entries (STRANDED_IDLE_MS
// block in stream-group-reader.ts removed), the 300 messages stayed unpersisted and this failed at its
// deadline; the e2e crash test had shown the same as 400 ACKed messages missing for minutes.
import { EntryField, encodeIngestBatch, PERSISTER_GROUP } from '@fleet/protocol';
import { migrate } from '@fleet/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Persister, startPersister } from '../src/persister.js';
import { count, envelope, type Harness, harness, memoryLogger, waitUntil } from './harness.js';

const STREAMS = { read_count: 100, block_ms: 50, claim_idle_ms: 1_000, consumer_ttl_ms: 3_000 };
const CONSUMER = 'stranded-live';

describe('entries stranded on a live persister', () => {
  let h: Harness;
  let p: Persister | undefined;

  beforeAll(async () => {
    h = await harness('stranded', { streams: STREAMS });
    await migrate(h.dbUrl);
  });
  afterAll(async () => {
    await p?.close();
    await h?.close();
  });

  it('are taken back by their own persister and persisted', async () => {
    const stream = h.keys.ingestStream(0);
    const log = memoryLogger();
    p = await startPersister(h.cfg, { logger: log, ops: false, consumerName: CONSUMER });
    const entry = (batch: string[]) => [
      EntryField.batch,
      encodeIngestBatch(batch.map((id) => ({ envelope: envelope(id), id }))),
      EntryField.acceptedAt,
      String(Date.now()),
    ];
    // A first entry read the normal way: once it is committed, the start-up drain of the own pending list
    // is over (readers take new entries only after it).
    await h.redis.xadd(stream, '*', ...entry(['stranded-first']));
    await waitUntil(
      async () => (await count(h, "SELECT count(*) AS n FROM messages WHERE id = 'stranded-first'")) === 1,
      10_000,
      'first entry persisted',
    );

    // Three entries delivered to the running persister's consumer by another connection: pending on it,
    // idle, and never seen by its readers (its start-up drain of its own pending list is already over).
    const ids: string[] = [];
    const tx = h.redis.multi();
    for (let e = 0; e < 3; e++) {
      const batch = Array.from({ length: 100 }, (_, i) => `stranded-${e}-${i}`);
      ids.push(...batch);
      tx.xadd(stream, '*', ...entry(batch));
    }
    tx.xreadgroup('GROUP', PERSISTER_GROUP, CONSUMER, 'COUNT', 3, 'STREAMS', stream, '>');
    for (const [err] of (await tx.exec()) ?? []) if (err) throw err;

    const committed = () => count(h, 'SELECT count(*) AS n FROM messages WHERE id = ANY($1)', [ids]);
    await waitUntil(async () => (await committed()) === ids.length, 30_000, 'stranded entries persisted');
    await waitUntil(
      async () => (await h.redis.xpending(stream, PERSISTER_GROUP))[0] === 0,
      10_000,
      'stranded entries acknowledged',
    );
    expect(log.lines.some((l) => /took back entries left pending/.test(l.msg))).toBe(true);
  }, 60_000);
});
