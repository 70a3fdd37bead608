import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { startSampler } from './support/sampler.js';

describe('startSampler', () => {
  it('never overlaps runs, reports errors and keeps going, stops', async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const errors: unknown[] = [];
    const sampler = startSampler(
      5,
      async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        runs++;
        await sleep(15);
        running--;
        if (runs === 2) throw new Error('redis down');
      },
      (err) => errors.push(err),
    );
    await sleep(150);
    sampler.stop();
    const after = runs;
    await sleep(50);
    expect(maxRunning).toBe(1);
    expect(runs).toBeGreaterThanOrEqual(3);
    expect(runs).toBe(after);
    expect(errors).toHaveLength(1);
  });

  it('setInterval changes the period', async () => {
    let runs = 0;
    const sampler = startSampler(10_000, async () => {
      runs++;
    });
    await sleep(30);
    expect(runs).toBe(0);
    sampler.setInterval(5);
    await sleep(60);
    sampler.stop();
    expect(runs).toBeGreaterThan(2);
  });
});
