import { startPersister } from '@fleet/persister';
import { FrameType } from '@fleet/protocol';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FreshDatabase, freshDatabase } from '../../../test/helpers/services.js';
import type { Gateway } from '../src/index.js';
import {
  cleanupRedisPrefix,
  envelope,
  gatewayConfig,
  RawClient,
  silentLogger,
  withGateway,
} from './helpers.js';

// End to end with the real persister: a durable ACK arrives only once the message's row is in Postgres.
describe('durable ack with the persister', () => {
  let db: FreshDatabase;
  let gw: Gateway;
  let persister: Awaited<ReturnType<typeof startPersister>>;
  let prefix = '';

  beforeAll(async () => {
    db = await freshDatabase('gw_durable');
    const cfg = gatewayConfig({
      database: { connection_string: db.url, pool: { max_connections: 2, min_connections: 0 } },
      streams: { block_ms: 20 },
      requests: { max_timeout_ms: 20_000 },
    });
    prefix = cfg.redis.key_prefix;
    persister = await startPersister(cfg, { logger: silentLogger, ops: false });
    gw = await withGateway(cfg);
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
    await persister?.close();
    await cleanupRedisPrefix(prefix);
    await db?.drop();
  });

  it('ACKs level 1 after the commit, with the row present', async () => {
    const client = await RawClient.open(gw.port);
    const envs = Array.from({ length: 50 }, (_, i) => envelope({ id: `durable-e2e-${i}` }));
    const acks = await Promise.all(envs.map((e) => client.publish(e, { durable: true })));
    for (const a of acks) expect(a).toMatchObject({ type: FrameType.ACK, ackLevel: 1 });
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM messages WHERE id = ANY($1)', [
      envs.map((e) => e.id),
    ]);
    await pool.end();
    expect(rows[0].n).toBe(50);
    await client.close();
  }, 30_000);
});
