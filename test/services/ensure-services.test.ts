import {
  createDatabase,
  ensurePostgres,
  ensureRedis,
  freePort,
  LOCAL_POSTGRES_URL,
  LOCAL_REDIS_URL,
  ServiceUnavailableError,
} from '@fleet/services';
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, it } from 'vitest';

// Each case hands ensure*() a simulated machine: an env (PATH, FLEET_*_URL) and a "local default" address.
const NO_TOOLS = { PATH: '/nonexistent' };

async function unreachable(scheme: 'redis' | 'postgres'): Promise<string> {
  const port = await freePort();
  return scheme === 'redis' ? `redis://127.0.0.1:${port}` : `postgres://postgres@127.0.0.1:${port}/postgres`;
}

async function pingRedis(url: string): Promise<string> {
  const redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  try {
    return await redis.ping();
  } finally {
    redis.disconnect();
  }
}

async function selectOne(url: string): Promise<number> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one;
  } finally {
    await client.end();
  }
}

describe('ensureRedis', () => {
  it('uses the local Redis when nothing is configured', async () => {
    const handle = await ensureRedis({ env: {} });
    expect(handle).toMatchObject({ url: LOCAL_REDIS_URL, kind: 'local' });
    expect(await pingRedis(handle.url)).toBe('PONG');
  });

  it('prefers FLEET_REDIS_URL, then an explicit url', async () => {
    const env = { FLEET_REDIS_URL: 'redis://127.0.0.1:6379/1' };
    expect(await ensureRedis({ env })).toMatchObject({ url: env.FLEET_REDIS_URL, kind: 'configured' });
    expect(await ensureRedis({ env, url: 'redis://127.0.0.1:6379/2' })).toMatchObject({ kind: 'configured' });
  });

  it('starts a private redis-server when the local one is not there', async () => {
    const handle = await ensureRedis({
      env: { PATH: process.env.PATH },
      localUrl: await unreachable('redis'),
    });
    try {
      expect(handle.kind).toBe('private');
      expect(await pingRedis(handle.url)).toBe('PONG');
    } finally {
      await handle.stop();
    }
  });

  it('says in one line how to get Redis when there is none', async () => {
    const localUrl = await unreachable('redis');
    const error = await ensureRedis({ env: NO_TOOLS, localUrl }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceUnavailableError);
    const { message, stack } = error as ServiceUnavailableError;
    expect(message).toBe(
      `Redis not reachable at ${new URL(localUrl).host} and no redis-server on PATH: install it (apt install redis-server / brew install redis) or run docker compose up -d redis, or set FLEET_REDIS_URL`,
    );
    expect(stack).toBe(message);
  });

  it('fails in one line, without the password, when the configured Redis is down', async () => {
    const port = new URL(await unreachable('redis')).port;
    const error = (await ensureRedis({
      env: { FLEET_REDIS_URL: `redis://:s3cret@127.0.0.1:${port}` },
    }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect(error.message).toMatch(/^Redis not reachable at 127\.0\.0\.1:\d+ \(FLEET_REDIS_URL\): /);
    expect(error.message).not.toContain('s3cret');
    expect(error.message).not.toContain('\n');
  });
});

describe('ensurePostgres', () => {
  it('uses the local Postgres when nothing is configured', async () => {
    const handle = await ensurePostgres({ env: {} });
    expect(handle).toMatchObject({ url: LOCAL_POSTGRES_URL, kind: 'local' });
    expect(await selectOne(handle.url)).toBe(1);
  });

  it('prefers FLEET_DATABASE_URL', async () => {
    const env = { FLEET_DATABASE_URL: LOCAL_POSTGRES_URL };
    expect(await ensurePostgres({ env })).toMatchObject({ kind: 'configured' });
  });

  it('starts a private cluster from initdb/pg_ctl when the local one is not there', async () => {
    const handle = await ensurePostgres({
      env: { PATH: process.env.PATH },
      localUrl: await unreachable('postgres'),
    });
    try {
      expect(handle.kind).toBe('private');
      expect(await selectOne(handle.url)).toBe(1);
    } finally {
      await handle.stop();
    }
  });

  it('falls back to embedded PGlite when there is no Postgres at all', async () => {
    const handle = await ensurePostgres({
      env: NO_TOOLS,
      localUrl: await unreachable('postgres'),
      debianRoot: '/nonexistent',
    });
    try {
      expect(handle.kind).toBe('embedded');
      expect(handle.maxConnections).toBeGreaterThan(1);
      expect(await selectOne(handle.url)).toBe(1);
    } finally {
      await handle.stop();
    }
  });

  it('says in one line how to get Postgres when the embedded fallback is off', async () => {
    const error = (await ensurePostgres({
      env: NO_TOOLS,
      localUrl: await unreachable('postgres'),
      debianRoot: '/nonexistent',
      allowEmbedded: false,
    }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect(error.message).toMatch(
      /^Postgres not reachable at 127\.0\.0\.1:\d+ and no initdb\/pg_ctl found: install PostgreSQL \(apt install postgresql/,
    );
    expect(error.message).not.toContain('\n');
  });
});

describe('createDatabase', () => {
  it('refuses names that are not plain identifiers', async () => {
    await expect(createDatabase(LOCAL_POSTGRES_URL, 'x"; DROP DATABASE postgres; --')).rejects.toThrow(
      /invalid database name/,
    );
    await expect(createDatabase(LOCAL_POSTGRES_URL, 'Upper')).rejects.toThrow(/invalid database name/);
  });
});
