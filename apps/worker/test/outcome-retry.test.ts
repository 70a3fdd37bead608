import { decodeStatusEntry, MessageStatus } from '@fleet/protocol';
import { createRedis } from '@fleet/redis';
import { type PrivateRedis, startPrivateRedis } from '@fleet/services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTCOME_RETRY_MS, sendOutcomes } from '../src/status.js';

// A job's outcomes survive a short Redis outage (a failover, a restart): the worker writes them again
// instead of failing the job, whose handlers already ran (a failed job's rows would be run again by the
// sweep). Against a private redis-server stopped and started under the write.
// Mutation tried: sendOutcomes giving up after its first failed attempt: "written once Redis is back"
// failed. Restored.
let redis: PrivateRedis;
beforeAll(async () => {
  redis = await startPrivateRedis();
});
afterAll(async () => {
  await redis?.dispose();
});

const cfg = () => ({ url: redis.url, mode: 'standalone' as const, nodes: [], nat_map: {} });
const outcome = (id: string) => ({ id, status: MessageStatus.COMPLETED, attempt: 0, at: Date.now() });

describe('a job outcome write across a Redis outage', () => {
  it('is written once Redis is back, within the retry window', async () => {
    // A client that fails fast while Redis is away (as a cluster client does with a dead master).
    const client = createRedis(cfg(), 'admin', { redis: { maxRetriesPerRequest: 0 } });
    client.on('error', () => {});
    try {
      await client.ping();
      await redis.stop();
      const retried: string[] = [];
      const sent = sendOutcomes(client, 'st', [outcome('a'), outcome('b')], (e) => retried.push(e.message));
      await new Promise((r) => setTimeout(r, 700));
      await redis.restart();
      await sent;
      expect(retried.length).toBeGreaterThan(0);
      // Both outcomes are in the stream (an entry repeated after a lost reply would be harmless).
      const ids = new Set<string>();
      for (const [, fields] of await client.xrange('st', '-', '+')) {
        const rec: Record<string, string> = {};
        for (let i = 0; i < fields.length; i += 2) rec[fields[i]!] = fields[i + 1]!;
        const e = decodeStatusEntry(rec);
        expect(e?.status).toBe(MessageStatus.COMPLETED);
        for (const id of e?.ids ?? []) ids.add(id);
      }
      expect([...ids].sort()).toEqual(['a', 'b']);
    } finally {
      client.disconnect();
    }
  });

  it('fails the job when Redis stays away past the window', async () => {
    expect(OUTCOME_RETRY_MS).toBeGreaterThanOrEqual(5_000);
    const client = createRedis(cfg(), 'admin', { redis: { maxRetriesPerRequest: 0 } });
    client.on('error', () => {});
    try {
      await client.ping();
      await redis.stop();
      await expect(sendOutcomes(client, 'st', [outcome('c')], () => {}, 400)).rejects.toThrow();
    } finally {
      client.disconnect();
      await redis.restart();
    }
  });
});
