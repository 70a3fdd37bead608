import { createRequire } from 'node:module';
import { Queue, Worker } from 'bullmq';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { cheapFinishReplies, gateJobFetches, mainLoopQueue, wakeMainLoop } from '../src/bullmq-internals.js';
import { BatchWorker } from '../src/job-data.js';
import { JobGate } from '../src/job-gate.js';
import { bullConnections, waitUntil } from './helpers.js';

// The installed BullMQ, named in the failure so whoever upgrades it knows what changed.
const BULLMQ = (createRequire(import.meta.url)('bullmq/package.json') as { version: string }).version;
const CHANGED = `BullMQ ${BULLMQ} no longer exposes Worker.mainLoopQueue.add (or it no longer wakes the main loop): raised worker concurrency (thread_pools.work.workers) would wait for a running job to end. Update apps/worker/src/bullmq-internals.ts for this BullMQ.`;

const redis = bullConnections('bullmq-internals');
const { prefix } = redis;
const connection = () => redis.connection();
afterAll(() => redis.close());

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

  it('a shared gate bounds the jobs of several Workers (moveToActive, processJob, drained, numQueued)', async () => {
    const GATE_CHANGED = `BullMQ ${BULLMQ} changed Worker.moveToActive / processJob / drained or its main-loop queue: the worker cannot bound thread_pools.work.workers over its shard Workers. Update gateJobFetches in apps/worker/src/bullmq-internals.ts for this BullMQ.`;
    // Mutation seen failing: a fetch always waiting for a slot (a Worker's fetched, unstarted jobs held both
    // slots while its next fetch waited: deadlock, the 15 jobs never finished).
    const gate = new JobGate(2);
    let running = 0;
    let max = 0;
    let done = 0;
    const names = ['g0', 'g1', 'g2'];
    const workers = names.map(
      (name) =>
        new Worker(
          name,
          async () => {
            running++;
            max = Math.max(max, running);
            await new Promise((r) => setTimeout(r, 30));
            running--;
            done++;
          },
          // Each Worker may run 3 (as the worker sets them: the whole budget), the gate only 2.
          { connection: connection(), prefix, concurrency: 3, autorun: false },
        ),
    );
    const queues = names.map((name) => new Queue(name, { connection: connection(), prefix }));
    try {
      for (const w of workers) {
        w.on('error', () => {});
        expect(gateJobFetches(w, gate), GATE_CHANGED).toBe(true);
        void w.run();
      }
      for (const q of queues)
        await q.addBulk(Array.from({ length: 5 }, (_, i) => ({ name: `j${i}`, data: {} })));
      await waitUntil(() => done === 15, 10_000, 'the 15 jobs of three gated Workers').catch(() => {
        throw new Error(GATE_CHANGED);
      });
      expect(max).toBe(2);
      // A slot is given back once BullMQ has finished the job (after the processor returned): waited for.
      // Found in a full run: read at once, the last job's slot was still held (inUse 1).
      await waitUntil(() => gate.inUse === 0, 5_000, 'every gate slot given back');
      expect(gate.inUse).toBe(0);
    } finally {
      gate.close();
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(queues.map((q) => q.close()));
    }
  });

  it('a completion that brings the next job does not turn that job into a string (moveToFinished)', async () => {
    const queue = new Queue('finish', { connection: connection(), prefix });
    const marker = `next-job-${'x'.repeat(20_000)}`;
    const done: string[] = [];
    const worker = new BatchWorker(
      'finish',
      async (job) => {
        done.push(job.name);
      },
      { connection: connection(), prefix, concurrency: 1, autorun: false },
    );
    worker.on('error', () => {});
    // Array#toString (what `reply < 0` does to an array reply) goes through join, with the array as `this`.
    const join = vi.spyOn(Array.prototype, 'join');
    const holds = (v: unknown, depth = 0): boolean =>
      typeof v === 'string'
        ? v.includes(marker)
        : depth < 3 && Array.isArray(v) && v.some((x) => holds(x, depth + 1));
    try {
      expect(
        cheapFinishReplies(worker.getBackend()),
        `BullMQ ${BULLMQ}: RedisQueueBackend.moveToFinished changed; update cheapFinishReplies (apps/worker/src/bullmq-internals.ts)`,
      ).toBe(true);
      await queue.addBulk(['a', 'b', 'c'].map((name) => ({ name, data: { marker } })));
      void worker.run();
      await waitUntil(() => done.length === 3, 10_000, 'three jobs, each after the one before it');
      expect(done).toEqual(['a', 'b', 'c']);
      expect(join.mock.contexts.some((ctx) => holds(ctx))).toBe(false);
    } finally {
      join.mockRestore();
      await worker.close();
      await queue.close();
    }
  });

  it('a refused completion still fails as BullMQ reports it (a negative reply: the lock is gone)', async () => {
    const queue = new Queue('lost', { connection: connection(), prefix });
    const errors: Error[] = [];
    const admin = redis.connection();
    const worker = new BatchWorker(
      'lost',
      async (job) => {
        await admin.del(`${prefix}:lost:${job.id}:lock`);
      },
      { connection: connection(), prefix, autorun: false },
    );
    worker.on('error', (err) => errors.push(err));
    try {
      await queue.add('j', {});
      void worker.run();
      await waitUntil(() => errors.length > 0, 10_000, 'the refused completion');
      expect(errors[0]!.message).toMatch(/Missing lock for job .* moveToFinished/);
    } finally {
      await worker.close();
      await queue.close();
    }
  });
});
