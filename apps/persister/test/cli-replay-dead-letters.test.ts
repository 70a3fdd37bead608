import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { run as deadLetters } from '../../../packages/client/src/cli/commands/dead-letters.js';
import { run as replay } from '../../../packages/client/src/cli/commands/replay.js';
import { forceStatus } from '../../../packages/store/test/fixtures.js';
import { testTempDir } from '../../../test/helpers/services.js';
import { type Persister, startPersister } from '../src/persister.js';
import {
  allJobs,
  bullQueue,
  count,
  type Harness,
  harness,
  memoryLogger,
  publish,
  waitUntil,
} from './harness.js';

async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += chunk.toString();
    return true;
  });
  try {
    return { code: await fn(), out };
  } finally {
    spy.mockRestore();
  }
}

describe('fleet replay / fleet dead-letters', () => {
  let h: Harness;
  let p: Persister;
  let q: Queue;
  let config: string;

  // The test run sets FLEET_DATABASE_URL / FLEET_REDIS_URL, which override any config file: the CLI under
  // test must read this file's own database and prefix.
  const saved: Record<string, string | undefined> = {};
  beforeAll(async () => {
    for (const k of ['FLEET_DATABASE_URL', 'FLEET_REDIS_URL']) {
      saved[k] = process.env[k];
      delete process.env[k];
    }
    h = await harness('cli', { queue: { batch_size: 3 } });
    p = await startPersister(h.cfg, { logger: memoryLogger(), ops: false, consumerName: 'cli-a' });
    q = bullQueue(h);
    config = join(await testTempDir('cli'), 'fleet.yaml');
    await writeFile(
      config,
      stringify({
        messaging_system: {
          redis: { url: h.cfg.redis.url, key_prefix: h.cfg.redis.key_prefix },
          database: { connection_string: h.cfg.database.connection_string },
          queue: { batch_size: 3 },
        },
      }),
    );
    await publish(h, ['c-1', 'c-2', 'c-3', 'c-4'], { topic: 'billing.paid' });
    await publish(h, ['o-1'], { topic: 'other.topic' });
    await waitUntil(async () => (await count(h, 'SELECT count(*) AS n FROM messages')) === 5, 10_000, 'rows');
    await waitUntil(async () => (await allJobs(q)).flatMap((j) => j.ids).length === 5, 10_000, 'jobs');
    await q.drain();
  });
  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) if (v !== undefined) process.env[k] = v;
    await p?.close();
    await q?.close();
    await h?.close();
  });

  it('replay re-enqueues a topic range and saves the group offset', async () => {
    const { code, out } = await capture(() =>
      replay(['--config', config, '--group', 'audit', '--topic', 'billing.paid']),
    );
    expect(code).toBe(0);
    expect(out).toMatch(/replayed 4 message/);
    const jobs = await allJobs(q);
    expect(jobs.flatMap((j) => j.ids).sort()).toEqual(['c-1', 'c-2', 'c-3', 'c-4']);
    expect(jobs.every((j) => j.id.startsWith('p-'))).toBe(true);
    const seq = (await h.pool.query("SELECT seq FROM messages WHERE id = 'c-4'")).rows[0].seq;
    const off = await h.pool.query(
      "SELECT \"offset\" FROM consumer_offsets WHERE consumer_group = 'audit' AND topic = 'billing.paid'",
    );
    expect(off.rows[0].offset).toBe(String(seq));
    // Nothing new since the saved offset: nothing replayed.
    expect(
      (await capture(() => replay(['--config', config, '--group', 'audit', '--topic', 'billing.paid']))).out,
    ).toMatch(/replayed 0/);
    await q.drain();
  });

  it('dead-letters list, replay, purge', async () => {
    await forceStatus(h.pool, ['c-1', 'c-2'], 'DEAD', { lastError: 'boom' });
    const list = await capture(() => deadLetters(['list', '--config', config, '--json']));
    expect(
      list.out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).id)
        .sort(),
    ).toEqual(['c-1', 'c-2']);
    expect((await capture(() => deadLetters(['replay', '--config', config, '--id', 'c-1']))).out).toMatch(
      /replayed 1/,
    );
    expect((await allJobs(q)).flatMap((j) => j.ids)).toEqual(['c-1']);
    expect((await capture(() => deadLetters(['purge', '--config', config, '--all']))).out).toMatch(
      /purged 1/,
    );
    expect(await count(h, 'SELECT count(*) AS n FROM messages')).toBe(4);
    await expect(deadLetters(['purge', '--config', config])).rejects.toThrow(/--id/);
  });
});
