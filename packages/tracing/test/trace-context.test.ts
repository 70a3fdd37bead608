import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { generateTraceInfo, parseTraceparent, ScopedTrace, TraceContext, withTrace } from '../src/index.js';

describe('TraceContext', () => {
  it('keeps the trace across awaits, timers and callbacks, and restores the outer trace', async () => {
    const outer = generateTraceInfo();
    const inner = generateTraceInfo();
    await TraceContext.run(outer, async () => {
      expect(TraceContext.get()).toBe(outer);
      const seen = await TraceContext.run(inner, async () => {
        await sleep(2);
        const fromTimer = await new Promise((resolve) => setTimeout(() => resolve(TraceContext.get()), 1));
        const fromImmediate = await new Promise((resolve) => setImmediate(() => resolve(TraceContext.get())));
        const fromMicrotask = await Promise.resolve().then(() => TraceContext.get());
        return [TraceContext.get(), fromTimer, fromImmediate, fromMicrotask];
      });
      expect(seen).toEqual([inner, inner, inner, inner]);
      expect(TraceContext.get()).toBe(outer);
      await sleep(1);
      expect(TraceContext.get()).toBe(outer);
    });
    expect(TraceContext.get()).toBeUndefined();
  });

  it('isolates concurrent scopes', async () => {
    const traces = Array.from({ length: 20 }, () => generateTraceInfo());
    const seen = await Promise.all(
      traces.map((t, i) =>
        withTrace(t, async () => {
          await sleep(20 - i);
          return TraceContext.get();
        }),
      ),
    );
    expect(seen).toEqual(traces);
  });

  it('withTrace accepts a traceparent header and starts a new trace for a malformed one', () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    withTrace(tp, () => expect(TraceContext.get()).toEqual(parseTraceparent(tp)));
    withTrace('garbage', () => {
      const t = TraceContext.get();
      expect(t).toBeDefined();
      expect(parseTraceparent(t!.traceparent)).toEqual(t);
    });
  });

  it('restores the previous trace when a nested scope throws', () => {
    const outer = generateTraceInfo();
    TraceContext.run(outer, () => {
      expect(() =>
        withTrace(generateTraceInfo(), () => {
          throw new Error('boom');
        }),
      ).toThrow('boom');
      expect(TraceContext.get()).toBe(outer);
    });
  });

  it('ScopedTrace enters a trace and restore() puts the previous one back, across awaits', async () => {
    const outer = generateTraceInfo();
    await TraceContext.run(outer, async () => {
      const scope = new ScopedTrace(generateTraceInfo());
      await sleep(1);
      expect(TraceContext.get()).toBe(scope.trace);
      scope.restore();
      expect(TraceContext.get()).toBe(outer);
      await sleep(1);
      expect(TraceContext.get()).toBe(outer);
      {
        using s = new ScopedTrace('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
        expect(TraceContext.get()?.traceId).toBe(s.trace.traceId);
      }
      expect(TraceContext.get()).toBe(outer);
    });
  });

  it('set and clear change the current trace', async () => {
    await TraceContext.run(generateTraceInfo(), async () => {
      const t = TraceContext.generate();
      TraceContext.set(t);
      await sleep(1);
      expect(TraceContext.get()).toBe(t);
      TraceContext.clear();
      expect(TraceContext.get()).toBeUndefined();
    });
  });

  // withTrace enters a header unparsed (the worker's per-message scope) and resolves it on first use. One
  // scope must still mean one trace: with the resolved TraceInfo not kept (PendingTrace.resolve without
  // `??=`), a missing header gave a fresh trace id on every get() and this test failed.
  it('a header entered unparsed resolves once: the same TraceInfo for the whole scope, also when absent', async () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
    for (const header of [tp, undefined, 'garbage']) {
      const seen = await withTrace(header, async () => {
        const first = TraceContext.get();
        await sleep(1);
        const later = await new Promise((resolve) => setImmediate(() => resolve(TraceContext.get())));
        return [first, TraceContext.get(), later];
      });
      expect(seen[0]).toBeDefined();
      expect(seen[1]).toBe(seen[0]);
      expect(seen[2]).toBe(seen[0]);
      if (header === tp) expect(seen[0]).toEqual(parseTraceparent(tp));
    }
    expect(TraceContext.get()).toBeUndefined();
  });
});
