import { encodeJobData, encodeJobMessage } from '@fleet/protocol';
import { createRedis } from '@fleet/redis';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  cleanupRedisPrefix,
  redisConnConfig,
  redisUrl,
  uniquePrefix,
} from '../../../test/helpers/services.js';
import { JobQueue } from '../src/index.js';

const prefix = uniquePrefix('job-queue');
const redis = createRedis(redisConnConfig(redisUrl()), 'queue');
afterAll(async () => {
  redis.disconnect();
  await cleanupRedisPrefix(prefix);
});

describe('JobQueue (job data written by encodeJobDataJson)', () => {
  it('stores the bytes BullMQ stores itself, without JSON.stringify of the batch', async () => {
    const envelope = Buffer.alloc(5000, 0xab);
    const batch = () =>
      encodeJobData([
        encodeJobMessage({ id: 'm1', envelope }, 0),
        encodeJobMessage({ id: 'm"2é', envelope, traceparent: 'tp', replyTo: 'gw|c' }, 2),
      ]);
    const plain = new Queue('plain', { connection: redis, prefix });
    const ours = new JobQueue('ours', { connection: redis, prefix });
    try {
      await plain.addBulk([{ name: 'batch', data: batch(), opts: { jobId: 'j1' } }]);
      const data = batch();
      const stringify = vi.spyOn(JSON, 'stringify');
      try {
        await ours.addBulk([{ name: 'batch', data, opts: { jobId: 'j1' } }]);
        expect(stringify.mock.calls.filter(([v]) => v === data)).toEqual([]);
      } finally {
        stringify.mockRestore();
      }
      const stored = await redis.hgetBuffer(`${prefix}:ours:j1`, 'data');
      expect(stored).toEqual(await redis.hgetBuffer(`${prefix}:plain:j1`, 'data'));
      expect(stored?.toString()).toBe(JSON.stringify(data));
      // Anything else is BullMQ's own JSON.
      await ours.addBulk([{ name: 'other', data: { any: 'thing' }, opts: { jobId: 'j2' } }]);
      expect(await redis.hget(`${prefix}:ours:j2`, 'data')).toBe('{"any":"thing"}');
    } finally {
      await plain.close();
      await ours.close();
    }
  });
});
