// A Redis past its maxmemory (noeviction) refuses BullMQ's scripts with `OOM command not allowed`.
// BullMQ alone retries at once, forever (thousands of refusals and log lines a second); the worker must
// back off and write few lines, then take jobs again by itself once Redis has room.
//
// Mutations tried: (1) backOffOnErrors' pause removed (errors only logged): the refusals came within
// milliseconds and the elapsed-time floor failed; (2) LogLimiter bypassed (every error logged): the
// line count failed.

import { type PrivateRedis, startPrivateRedis } from '@fleet/services';
import { startWorker, type WorkerApp } from '@fleet/worker';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelope, FleetProbe, jobMessage, testConfig, waitUntil } from './helpers.js';

const MAXMEMORY_BYTES = 8 * 1024 * 1024;
/** A value big enough to put Redis past maxmemory. */
const FILLER_BYTES = 10 * 1024 * 1024;
/** Refusals to wait for: with the 0.5 s, 1 s, 2 s, ... pauses they take several seconds at least. */
const REFUSALS = 6;
const MIN_BACKED_OFF_MS = 3_000;

let redis: PrivateRedis;
let admin: Redis;
let worker: WorkerApp | undefined;
let probe: FleetProbe;
const lines: Array<{ msg?: string; suppressed?: number }> = [];

async function oomRefusals(): Promise<number> {
  const stats = await admin.info('errorstats');
  return Number(/^errorstat_OOM:count=(\d+)/m.exec(stats)?.[1] ?? 0);
}

beforeAll(async () => {
  redis = await startPrivateRedis();
  admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  await admin.config('SET', 'maxmemory-policy', 'noeviction'); // a private instance: ours to configure
});

afterAll(async () => {
  await worker?.close();
  await probe?.close().catch(() => undefined);
  admin?.disconnect();
  await redis?.dispose();
});

describe('worker against a full Redis', () => {
  it('backs off instead of spinning, logs a few lines, and resumes by itself once Redis has room', async () => {
    const cfg = testConfig({ redis: { url: redis.url }, handlers: { unrouted: 'complete' } });
    probe = new FleetProbe(cfg);
    const msg = jobMessage(envelope('oom.test'));
    await probe.enqueue([[msg]]);
    // The filler first, then the limit below what is used (the filler's own query buffer would count).
    await admin.set('filler', Buffer.alloc(FILLER_BYTES, 1));
    await admin.config('SET', 'maxmemory', String(MAXMEMORY_BYTES));
    expect(await admin.set('probe', 'x').catch((e: Error) => e.message)).toMatch(/OOM/);

    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const before = await oomRefusals();
    worker = await startWorker(cfg, { logger });
    await waitUntil(async () => (await oomRefusals()) > before, 30_000, 'a first OOM refusal');
    const firstAt = Date.now();
    await waitUntil(
      async () => (await oomRefusals()) >= before + REFUSALS,
      120_000,
      `${REFUSALS} OOM refusals`,
    );
    const elapsed = Date.now() - firstAt;
    const errorLines = lines.filter((l) => l.msg === 'bullmq worker error').length;
    console.log(`[oom] ${REFUSALS} refusals in ${elapsed} ms, ${errorLines} error lines`);
    expect(elapsed).toBeGreaterThanOrEqual(MIN_BACKED_OFF_MS);
    // One line, then at most one per 5 s (LOG_EVERY_MS).
    expect(errorLines).toBeLessThanOrEqual(2 + Math.ceil(elapsed / 5_000));
    expect(errorLines).toBeLessThan(REFUSALS);

    await admin.del('filler');
    const outcomes = await probe.waitForOutcomes([msg.id], 90_000);
    expect(outcomes.get(msg.id)?.[0]?.status).toBe('COMPLETED');
  }, 240_000);
});
