import { connect, type FleetClient, type PublishResult } from '@fleet/client';
import { startPersister } from '@fleet/persister';
import { type PrivateRedis, startPrivateRedis } from '@fleet/services';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FreshDatabase, freshDatabase } from '../../../test/helpers/services.js';
import type { Gateway } from '../src/index.js';
import { gatewayConfig, silentLogger, sleep, waitUntil, withGateway } from './helpers.js';

const BEFORE = 300;
const OUTAGE_MS = 2_000;
const PACE_MS = 5;
const DEADLINE_MS = 120_000;

// Issue 13 item 7: during a ~2 s Redis outage the TypeScript client handed UNAVAILABLE back to the caller.
// Now every publish the caller awaits resolves ACKed after the outage, none fails, ids are the ones given,
// and each is stored once (a messages row per id, the persister deduplicating any double append).
// Real gateway and persister on a private redis-server that is stopped and restarted (AOF on).
// Mutation tried: publishRetry off by default (DEFAULT_PUBLISH_RETRY unused): it failed, 377 publishes
// rejected UNAVAILABLE.
describe('client publishes through a Redis outage', () => {
  let redis: PrivateRedis;
  let db: FreshDatabase;
  let gw: Gateway;
  let persister: Awaited<ReturnType<typeof startPersister>>;
  let client: FleetClient;

  beforeAll(async () => {
    redis = await startPrivateRedis({ aof: true });
    db = await freshDatabase('gw_client_retry');
    const cfg = gatewayConfig(
      {
        database: { connection_string: db.url, pool: { max_connections: 2, min_connections: 0 } },
        streams: { block_ms: 20 },
      },
      redis.url,
    );
    persister = await startPersister(cfg, { logger: silentLogger, ops: false });
    gw = await withGateway(cfg);
    // Default retry policy (the point of the test), except a reconnect that outlasts the box's slowness.
    client = await connect({ host: '127.0.0.1', port: gw.port, window: 200 });
  }, 60_000);
  afterAll(async () => {
    client?.destroy();
    await gw?.close();
    await persister?.close();
    await redis?.dispose();
    await db?.drop();
  });

  it('every awaited publish is ACKed after the outage, same id, stored once', async () => {
    const sent: Array<{ id: string; result: Promise<PublishResult> }> = [];
    let n = 0;
    const publish = () => {
      const id = `outage-${n++}`;
      sent.push({ id, result: client.publish('orders.outage', { n }, { id }) });
    };
    let pacing = true;
    const pacer = (async () => {
      while (pacing) {
        publish();
        await sleep(PACE_MS);
      }
    })();

    expect(await waitUntil(() => n >= BEFORE, DEADLINE_MS)).toBe(true);
    await Promise.all(sent.slice(0, BEFORE).map((s) => s.result));
    await redis.stop();
    const retriesAtStop = client.publishRetries;
    await sleep(OUTAGE_MS); // the outage itself, not an assertion
    await redis.restart();
    const afterRestart = n;
    expect(await waitUntil(() => n >= afterRestart + BEFORE, DEADLINE_MS)).toBe(true);
    pacing = false;
    await pacer;

    const settled = await Promise.allSettled(sent.map((s) => s.result));
    const failures = settled.flatMap((s) => (s.status === 'rejected' ? [String(s.reason)] : []));
    expect(failures).toEqual([]);
    const results = settled.map((s) => (s as PromiseFulfilledResult<PublishResult>).value);
    expect(results.map((r) => r.id)).toEqual(sent.map((s) => s.id));
    // The outage did refuse publishes: without retries some would be in `failures`.
    expect(client.publishRetries).toBeGreaterThan(retriesAtStop);

    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const ids = sent.map((s) => s.id);
      const count = async () =>
        (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM messages WHERE id = ANY($1)', [ids]))
          .rows[0]!.n;
      // One row per id (UNIQUE): all of them there means each stored exactly once.
      expect(await waitUntil(async () => (await count()) === ids.length, DEADLINE_MS)).toBe(true);
    } finally {
      await pool.end();
    }
  }, 240_000);
});
