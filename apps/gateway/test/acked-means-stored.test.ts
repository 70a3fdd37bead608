import { startPersister } from '@fleet/persister';
import { ErrorCode, FrameType } from '@fleet/protocol';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeRawEnvelope,
  type RawEnvelope,
  rawEnvelopeArb,
  rawEnvelopeProblem,
} from '../../../packages/protocol/test/arbitraries.js';
import { type FreshDatabase, freshDatabase } from '../../../test/helpers/services.js';
import type { Gateway } from '../src/index.js';
import {
  cleanupRedisPrefix,
  gatewayConfig,
  RawClient,
  silentLogger,
  waitUntil,
  withGateway,
} from './helpers.js';

const STORE_DEADLINE_MS = 60_000;

// The guarantee: any envelope the gateway ACKs (stream or durable level) is stored by the persister as a
// `messages` row, and nothing lands in dead_entries; what the gateway refuses is refused INVALID_ENVELOPE or
// INVALID_TOPIC, exactly the envelopes docs/protocol.md rules out (timestamps past year 9999, NUL anywhere,
// repeated header keys, over-long fields, ...). Real gateway, real Redis, real persister, real Postgres.
// Mutations tried, each failing this test: dropping the timestamp bound in decodeEnvelope (2^53 and up
// ACKed; with the oracle assertion also disabled, the dead_entries check failed: "interval out of range"),
// dropping the NUL check in readStr, dropping the duplicate header key check (both ACKed against the rules).
describe('what the gateway ACKs, the persister stores', () => {
  let db: FreshDatabase;
  let gw: Gateway;
  let persister: Awaited<ReturnType<typeof startPersister>>;
  let pool: pg.Pool;
  let client: RawClient;
  let prefix = '';

  beforeAll(async () => {
    db = await freshDatabase('gw_acked_stored');
    const cfg = gatewayConfig({
      database: { connection_string: db.url, pool: { max_connections: 2, min_connections: 0 } },
      streams: { block_ms: 20 },
      requests: { max_timeout_ms: STORE_DEADLINE_MS },
    });
    prefix = cfg.redis.key_prefix;
    persister = await startPersister(cfg, { logger: silentLogger, ops: false });
    gw = await withGateway(cfg);
    client = await RawClient.open(gw.port);
    pool = new pg.Pool({ connectionString: db.url, max: 1 });
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    await pool?.end();
    await gw?.close();
    await persister?.close();
    await cleanupRedisPrefix(prefix);
    await db?.drop();
  });

  it('every ACKed envelope becomes a row (none dead-lettered); every refused one is INVALID_*', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(rawEnvelopeArb, { minLength: 1, maxLength: 12 }),
        fc.boolean(),
        async (raws, durable) => {
          run++;
          // Ids unique across runs (the row check reads them back); empty ids stay empty: the gateway assigns one.
          const sent: RawEnvelope[] = raws.map((r, i) => ({
            ...r,
            id: r.id === '' ? '' : `r${run}-${i}:${r.id}`,
          }));
          const answers = await Promise.all(
            sent.map((r) =>
              client.publish(encodeRawEnvelope(r), {
                durable,
                ...(r.partitionKey ? { partitionKey: r.partitionKey } : {}),
              }),
            ),
          );
          const acked = new Map<string, RawEnvelope>();
          answers.forEach((a, i) => {
            const problem = rawEnvelopeProblem(sent[i]!);
            if (a.type === FrameType.ACK) {
              expect(problem, `ACKed although the rules refuse it (${problem})`).toBeNull();
              if (sent[i]!.id !== '') expect(a.messageId).toBe(sent[i]!.id);
              acked.set(a.messageId, sent[i]!);
            } else {
              expect(a.type).toBe(FrameType.ERROR);
              if (a.type !== FrameType.ERROR) return;
              expect([ErrorCode.INVALID_ENVELOPE, ErrorCode.INVALID_TOPIC], a.message).toContain(a.code);
              expect(problem, `refused a valid envelope: ${a.message}`).not.toBeNull();
            }
          });
          const ids = [...acked.keys()];
          const rows = async () =>
            (
              await pool.query<{ id: string; sent_ms: number; headers: Record<string, string> }>(
                `SELECT id, round(extract(epoch FROM sent_at) * 1000)::float8 AS sent_ms, headers
                 FROM messages WHERE id = ANY($1)`,
                [ids],
              )
            ).rows;
          // Durable ACKs come after the commit; stream ACKs before it: wait for those.
          if (!durable) await waitUntil(async () => (await rows()).length === ids.length, STORE_DEADLINE_MS);
          const stored = await rows();
          expect(stored.map((r) => r.id).sort()).toEqual(ids.sort());
          for (const row of stored) {
            const r = acked.get(row.id)!;
            expect(row.sent_ms).toBe(Number(r.timestamp));
            expect(row.headers).toEqual(Object.fromEntries(r.headers));
          }
          const dead = await pool.query('SELECT stream_id, reason FROM dead_entries');
          expect(dead.rows).toEqual([]);
        },
      ),
      { numRuns: 100 },
    );
  }, 300_000);
});
