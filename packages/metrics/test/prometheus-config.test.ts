import { readFileSync } from 'node:fs';
import { messagingSystemSchema } from '@fleet/config';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

interface ScrapeConfig {
  job_name: string;
  static_configs?: { targets: string[] }[];
  dns_sd_configs?: { names: string[]; port: number }[];
}

describe('config/prometheus.yml', () => {
  it('scrapes the three apps on the ops ports the config schema defaults to', () => {
    const url = new URL('../../../config/prometheus.yml', import.meta.url);
    const doc = parse(readFileSync(url, 'utf8')) as { scrape_configs: ScrapeConfig[] };
    const ops = messagingSystemSchema.parse({}).ops;
    const jobs = new Map(doc.scrape_configs.map((s) => [s.job_name, s]));
    expect([...jobs.keys()].sort()).toEqual(['gateway', 'persister', 'worker']);
    expect(jobs.get('gateway')!.static_configs![0]!.targets).toEqual([`gateway:${ops.gateway_metrics_port}`]);
    expect(jobs.get('persister')!.static_configs![0]!.targets).toEqual([`persister:${ops.port}`]);
    expect(jobs.get('worker')!.dns_sd_configs![0]).toMatchObject({
      names: ['worker'],
      port: ops.worker_metrics_port,
    });
  });
});
