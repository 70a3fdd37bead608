import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  configReloadMetrics,
  createRegistry,
  gatewayMetrics,
  persisterMetrics,
  workerMetrics,
} from '../src/index.js';
import { parsePrometheusText } from './support/text-format.js';

describe('config/grafana-dashboard.json', () => {
  it('queries only metrics the fleet exports', async () => {
    const registry = createRegistry({ app: 'worker', enabled: true });
    gatewayMetrics(registry);
    persisterMetrics(registry);
    workerMetrics(registry);
    configReloadMetrics(registry);
    const families = parsePrometheusText(await registry.metrics());
    const known = new Set<string>();
    for (const f of families.values()) {
      known.add(f.name);
      if (f.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) known.add(f.name + s);
    }
    // Families without samples yet (labelled metrics) still print HELP/TYPE, so they are known too.
    const url = new URL('../../../config/grafana-dashboard.json', import.meta.url);
    const text = readFileSync(url, 'utf8');
    const used = new Set(text.match(/fleet_[a-z0-9_]+/g));
    expect(used.size).toBeGreaterThan(10);
    for (const name of used) expect(known, name).toContain(name);
  });
});
