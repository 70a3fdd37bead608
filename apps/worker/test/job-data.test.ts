import { encodeJobData, encodeJobMessage, type JobData } from '@fleet/protocol';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { BatchWorker } from '../src/job-data.js';
import { bullConnections, waitUntil } from './helpers.js';

const redis = bullConnections('job-data');
const { prefix } = redis;
const connection = () => redis.connection();
afterAll(() => redis.close());

describe('BatchWorker (job data read by parseJobDataJson)', () => {
  it('hands its processor the data JSON.parse would, without JSON.parse of a fleet batch', async () => {
    const envelope = Buffer.alloc(5000, 0xcd);
    const batch = encodeJobData([
      encodeJobMessage({ id: 'm1', envelope }, 0),
      encodeJobMessage({ id: 'm2é', envelope, traceparent: 'tp', replyTo: 'gw|c' }, 2),
    ]);
    const text = JSON.stringify(batch);
    const queue = new Queue('q', { connection: connection(), prefix });
    const seen: unknown[] = [];
    const parse = vi.spyOn(JSON, 'parse');
    const worker = new BatchWorker(
      'q',
      async (job) => {
        seen.push(job.data);
      },
      { connection: connection(), prefix, autorun: false },
    );
    worker.on('error', () => {});
    try {
      await queue.addBulk([
        { name: 'batch', data: batch },
        { name: 'other', data: { any: ['thing'] } as unknown as JobData },
      ]);
      void worker.run();
      await waitUntil(() => seen.length === 2, 10_000, 'both jobs to run');
      expect(parse.mock.calls.filter(([t]) => t === text)).toEqual([]);
      expect(seen).toStrictEqual([JSON.parse(text), { any: ['thing'] }]);
    } finally {
      parse.mockRestore();
      await worker.close();
      await queue.close();
    }
  });
});
