import { FleetKeys } from '@fleet/protocol';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { RUN_ENV } from '../helpers/run-env.js';
import {
  cleanupRedisPrefix,
  databaseUrl,
  freshDatabase,
  redisUrl,
  runId,
  uniquePrefix,
} from '../helpers/services.js';

// The global setup hands this run's services to forked workers through the environment.
describe('test run services', () => {
  const redis = new Redis(redisUrl());
  afterAll(() => redis.quit());

  it('sees the run id, Redis and the run database set by the global setup', async () => {
    expect(process.env[RUN_ENV.runId]).toMatch(/^\d+_[0-9a-f]{6}$/);
    expect(runId()).toBe(process.env[RUN_ENV.runId]);
    expect(await redis.ping()).toBe('PONG');
    const client = new pg.Client(databaseUrl());
    await client.connect();
    try {
      const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
      if (process.env[RUN_ENV.postgresKind] !== 'embedded') expect(rows[0]?.db).toBe(`fleet_test_${runId()}`);
    } finally {
      await client.end();
    }
  });

  it('uniquePrefix names keys under the run prefix, and cleanupRedisPrefix removes them', async () => {
    const prefix = uniquePrefix('run env');
    expect(prefix.startsWith(`fleet-test-${runId()}-run-env-`)).toBe(true);
    expect(uniquePrefix('run env')).not.toBe(prefix);
    await redis.set(`${prefix}:a`, '1');
    await redis.set(`${prefix}:b`, '2');
    expect(await cleanupRedisPrefix(prefix)).toBe(2);
    expect(await redis.exists(`${prefix}:a`)).toBe(0);
  });

  // The shard-tag layout (keys.ts): `{<prefix>:s<n>}:...` keys do not start with the prefix. Mutation
  // checked: with the old `${prefix}*` pattern alone, 2 of the 6 keys were deleted.
  it("cleanupRedisPrefix removes the tagged keys of a fleet too, and no other fleet's", async () => {
    const prefix = uniquePrefix('layout');
    const other = uniquePrefix('layout');
    const keys = new FleetKeys(prefix, 2);
    const all = [
      keys.ingestStream(0),
      keys.statusStream(1),
      `${keys.bullPrefix(1)}:messages:wait`,
      keys.replyChannel('gw-1'),
      keys.persisterAlive('p1'),
      keys.persisterRegistry(),
    ];
    for (const k of all) await redis.set(k, '1');
    await redis.set(new FleetKeys(other, 1).ingestStream(0), '1');
    expect(await cleanupRedisPrefix(prefix)).toBe(all.length);
    expect(await redis.exists(...all)).toBe(0);
    expect(await cleanupRedisPrefix(other)).toBe(1);
  });

  it('freshDatabase gives an empty database of its own and drops it', async () => {
    const db = await freshDatabase('Run Env');
    const client = new pg.Client(db.url);
    await client.connect();
    try {
      await client.query('CREATE TABLE only_here (id int)');
      const { rows } = await client.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'",
      );
      expect(rows[0]?.n).toBe(1);
    } finally {
      await client.end();
    }
    await db.drop();
    const after = new pg.Client(db.url);
    await expect(after.connect()).rejects.toThrow();
    await after.end().catch(() => {});
  });
});
