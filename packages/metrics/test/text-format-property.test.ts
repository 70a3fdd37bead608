import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRegistry, workerMetrics } from '../src/index.js';
import { parsePrometheusText } from './support/text-format.js';

describe('Prometheus text format (property)', () => {
  it('any label value and counter value survives registry output -> strict parse', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.string({ maxLength: 20 }), { minLength: 1, maxLength: 8 }),
        fc.double({ min: 0, max: 1e12, noNaN: true }),
        async (reasons, value) => {
          const registry = createRegistry({ app: 'worker', enabled: true, defaultMetrics: false });
          const m = workerMetrics(registry);
          for (const r of reasons) m.handlerErrors.labels(r).inc(value);
          m.handler.labels('t').observe(value / 1e12);
          const families = parsePrometheusText(await registry.metrics());
          const samples = families.get('fleet_worker_handler_errors_total')!.samples;
          expect(samples.map((s) => s.labels.reason).sort()).toEqual([...reasons].sort());
          for (const s of samples) expect(s.value).toBe(value);
        },
      ),
      { numRuns: 50 },
    );
  });
});
