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

  // Mutation tried: the compose mount of alerts.yml removed: this case failed. Restored.
  it('loads config/alerts.yml, which docker-compose mounts beside it', () => {
    const read = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');
    const doc = parse(read('config/prometheus.yml')) as { rule_files: string[] };
    expect(doc.rule_files).toEqual(['alerts.yml']);
    const compose = parse(read('docker-compose.yml'), { merge: true });
    const volumes = compose.services.prometheus.volumes as string[];
    const configAt = volumes.find((v) => v.startsWith('./config/prometheus.yml:'))!.split(':')[1]!;
    // rule_files are relative to the config file's directory.
    const rulesAt = `${configAt.slice(0, configAt.lastIndexOf('/'))}/alerts.yml`;
    expect(volumes).toContain(`./config/alerts.yml:${rulesAt}:ro`);
  });
});
