import { describe, expect, it } from 'vitest';
import { Backoff, LogLimiter, RetryAborted, retry } from '../src/index.js';

describe('retry (the one retry loop of the persister)', () => {
  it('retries until fn succeeds, waiting the backoff between attempts', async () => {
    let calls = 0;
    const out = await retry(
      async () => {
        if (++calls < 3) throw new Error('down');
        return 'ok';
      },
      { backoff: new Backoff(1, 2) },
    );
    expect(out).toBe('ok');
    expect(calls).toBe(3);
  });

  it('gives up with the error onError throws, and logs only what onError asks for, rate-limited', async () => {
    const logged: number[] = [];
    let calls = 0;
    const err = await retry(
      async () => {
        calls++;
        throw new Error(calls < 4 ? 'transient' : 'data');
      },
      {
        backoff: new Backoff(1, 1),
        logLimiter: new LogLimiter(60_000),
        onError: (e) => {
          if ((e as Error).message === 'data') throw e;
          return 'log';
        },
        log: (_e, suppressed) => logged.push(suppressed),
      },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toBe('data');
    expect(calls).toBe(4);
    expect(logged).toEqual([0]); // three failures to log, one line within the interval
  });

  it('stops with RetryAborted when its signal aborts during a wait', async () => {
    const ac = new AbortController();
    const p = retry(
      async () => {
        queueMicrotask(() => ac.abort());
        throw new Error('down');
      },
      { backoff: new Backoff(60_000, 60_000), signal: ac.signal },
    );
    await expect(p).rejects.toBeInstanceOf(RetryAborted);
  });
});
