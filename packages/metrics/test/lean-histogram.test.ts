import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LeanHistogram, SECONDS_BUCKETS } from '../src/index.js';

// The registry must not tell a LeanHistogram from prom-client's: same series, same values, same text.
describe('LeanHistogram', () => {
  it("exposes exactly what prom-client's Histogram exposes for the same observations", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.constantFrom('a', 'b', 'c'),
            fc.oneof(fc.double({ min: 0, max: 20, noNaN: true }), fc.constantFrom(...SECONDS_BUCKETS)),
          ),
          {
            maxLength: 200,
          },
        ),
        async (observations) => {
          const lean = new Registry();
          const prom = new Registry();
          const l = new LeanHistogram('h', 'help', ['topic'], SECONDS_BUCKETS, [lean]);
          const p = new Histogram({
            name: 'h',
            help: 'help',
            labelNames: ['topic'],
            buckets: SECONDS_BUCKETS,
            registers: [prom],
          });
          const u = new LeanHistogram('u', 'help', [], SECONDS_BUCKETS, [lean]);
          const q = new Histogram({ name: 'u', help: 'help', buckets: SECONDS_BUCKETS, registers: [prom] });
          for (const [topic, v] of observations) {
            l.labels(topic).observe(v);
            p.labels(topic).observe(v);
            u.observe(v);
            q.observe(v);
          }
          // Series order follows first use in both; compare line sets to stay independent of it.
          const lines = async (r: Registry) => (await r.metrics()).split('\n').sort();
          expect(await lines(lean)).toEqual(await lines(prom));
        },
      ),
      { numRuns: 50 },
    );
  });

  it('reset() forgets every series', async () => {
    const r = new Registry();
    const h = new LeanHistogram('h', 'help', [], SECONDS_BUCKETS, [r]);
    h.observe(0.1);
    h.reset();
    expect(await r.metrics()).not.toContain('h_count');
  });
});
