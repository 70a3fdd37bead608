import { createRequire } from 'node:module';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupRedisPrefix, redisUrl, uniquePrefix } from '../../../test/helpers/services.js';
import { mainLoopQueue, wakeMainLoop } from '../src/bullmq-internals.js';
import { waitUntil } from './helpers.js';

// The installed BullMQ, named in the failure so whoever upgrades it knows what changed.
const BULLMQ = (createRequire(import.meta.url)('bullmq/package.json') as { version: string }).version;
const CHANGED = `BullMQ ${BULLMQ} no longer exposes Worker.mainLoopQueue.add (or it no longer wakes the main loop): raised worker concurrency (thread_pools.work.workers) would wait for a running job to end. Update apps/worker/src/bullmq-internals.ts for this BullMQ.`;

const prefix = uniquePrefix('bullmq-internals');
const connections: Redis[] = [];
const connection = () => {
  const r = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  r.on('error', () => {});
  connections.push(r);
  return r;
};
afterAll(async () => {
  for (const r of connections) r.disconnect();
  await cleanupRedisPrefix(prefix);
});

describe('BullMQ internals the worker relies on', () => {
  it('a raised concurrency takes effect while every slot is busy once the main loop is woken', async () => {
    const queue = new Queue('q', { connection: connection(), prefix });
    const started: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const worker = new Worker(
      'q',
      async (job) => {
        started.push(job.name);
        await held;
      },
      { connection: connection(), prefix, concurrency: 1, autorun: false },
    );
    worker.on('error', () => {});
    try {
      void worker.run();
      await queue.addBulk([
        { name: 'a', data: {} },
        { name: 'b', data: {} },
      ]);
      await waitUntil(() => started.length === 1, 10_000, 'the first job to start');
      expect(mainLoopQueue(worker), CHANGED).toBeDefined();

      worker.concurrency = 2;
      expect(wakeMainLoop(worker), CHANGED).toBe(true);
      await waitUntil(() => started.length === 2, 5_000, 'the second job to start').catch(() => {
        throw new Error(CHANGED);
      });
    } finally {
      release();
      await worker.close();
      await queue.close();
    }
  });
});
