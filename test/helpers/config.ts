import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FleetConfig } from '@fleet/config';
import { stringify } from 'yaml';
import { databaseUrl, redisUrl, testTempDir, uniquePrefix } from './services.js';

export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Objects merge key by key; arrays and scalars from `over` replace (undefined leaves `base`'s value). */
export function deepMerge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const current = out[key];
    out[key] = isPlain(current) && isPlain(value) ? deepMerge(current, value) : value;
  }
  return out;
}

/**
 * Defaults for a config under test: every port 0 (the OS picks; read the real one from the app's logs),
 * this run's Redis under a fresh key prefix, this run's database, info logs (the apps' `"msg":"ready"`
 * line is info, see processes.ts) and metrics sampled fast.
 */
export function testConfigDefaults(): DeepPartial<FleetConfig> {
  return {
    network: { host: '127.0.0.1', port: 0 },
    redis: { url: redisUrl(), key_prefix: uniquePrefix('app') },
    database: { connection_string: databaseUrl() },
    logging: { level: 'info', writers: [{ type: 'console' }] },
    monitoring: { interval_ms: 500 },
    ops: { host: '127.0.0.1', port: 0, gateway_metrics_port: 0, worker_metrics_port: 0 },
    tracing: { exporter: 'none' },
  };
}

/**
 * Writes `messaging_system:` YAML (test defaults deep-merged with `overrides`) to `fleet.yaml` in a new
 * testTempDir() (removed at the end of the run). Returns the file and its dir (handler modules and log
 * files can go beside it).
 */
export async function writeTestConfig(
  overrides: DeepPartial<FleetConfig> = {},
): Promise<{ path: string; dir: string; config: DeepPartial<FleetConfig> }> {
  const dir = await testTempDir('config');
  const path = join(dir, 'fleet.yaml');
  const config = deepMerge(testConfigDefaults() as Plain, overrides as Plain) as DeepPartial<FleetConfig>;
  await writeFile(path, stringify({ messaging_system: config }));
  return { path, dir, config };
}

/**
 * The `redis` overrides of a config on a Redis Cluster (e.g. a PrivateRedisCluster from @fleet/services):
 * mode cluster, every node as a seed, `url` the first seed. Merge into writeTestConfig() overrides:
 * `writeTestConfig({ redis: clusterRedis(cluster), ... })` (the key prefix stays the test default). Also a
 * cleanupRedisPrefix() target.
 */
export function clusterRedis(cluster: { readonly urls: readonly string[] }): {
  mode: 'cluster';
  nodes: string[];
  url: string;
} {
  if (cluster.urls.length === 0) throw new Error('a cluster config needs at least one node URL');
  return { mode: 'cluster', nodes: [...cluster.urls], url: cluster.urls[0]! };
}

/** writeTestConfig() on a Redis Cluster: clusterRedis(cluster) under `overrides`. */
export function writeClusterTestConfig(
  cluster: { readonly urls: readonly string[] },
  overrides: DeepPartial<FleetConfig> = {},
): ReturnType<typeof writeTestConfig> {
  return writeTestConfig(
    deepMerge({ redis: clusterRedis(cluster) } as Plain, overrides as Plain) as DeepPartial<FleetConfig>,
  );
}
