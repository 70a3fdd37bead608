import { describe, expect, it } from 'vitest';
import { Backoff, LogLimiter } from '../src/index.js';

describe('LogLimiter and Backoff (error loops neither flood nor spin)', () => {
  it('lets one line through per interval and counts the ones it swallowed', () => {
    // Mutation tried: take() always returning 0 (no limit): the 10_000-call loop below then logged 10_000.
    let now = 0;
    const limiter = new LogLimiter(5_000, () => now);
    let written = 0;
    let swallowedReported = 0;
    for (let i = 0; i < 10_000; i++) {
      now = i; // 10 s of a loop failing every ms
      const n = limiter.take();
      if (n >= 0) {
        written++;
        swallowedReported += n;
      }
    }
    expect(written).toBe(2);
    now = 20_000;
    const last = limiter.take();
    expect(last).toBeGreaterThan(0);
    expect(swallowedReported + last + written + 1).toBe(10_001);
  });

  it('backs off exponentially up to the cap and starts over after reset', () => {
    const b = new Backoff(100, 1_000);
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
    expect(b.failures).toBe(6);
    b.reset();
    expect(b.next()).toBe(100);
  });
});
