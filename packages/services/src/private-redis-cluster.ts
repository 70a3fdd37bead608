import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { ServiceUnavailableError } from './errors.js';
import { freePort } from './ports.js';
import { type PrivateRedis, startPrivateRedis } from './private-redis.js';
import { waitFor } from './probe.js';
import { which } from './which.js';

const run = promisify(execFile);

export interface PrivateRedisClusterOptions {
  /** Masters (default 3). */
  masters?: number;
  /** Replicas per master (default 1). */
  replicas?: number;
  /** cluster-node-timeout in ms (default 1000: a dead master is replaced within a few seconds). */
  nodeTimeoutMs?: number;
  /** AOF on every node (default off: a replica takes over a killed master). */
  aof?: boolean;
}

export interface ClusterNodeInfo {
  id: string;
  port: number;
  role: 'master' | 'replica';
  /** For a replica: its master's id. */
  masterId?: string;
  /** Slot ranges served (masters). */
  slots: Array<[number, number]>;
  failed: boolean;
}

/** A Redis Cluster of our own (plain redis-server processes on free ports), for cluster and failover tests. */
export interface PrivateRedisCluster {
  /** Seed URLs of every node (redis.nodes). */
  readonly urls: string[];
  readonly nodes: PrivateRedis[];
  /** The cluster as one node sees it (CLUSTER NODES), from the first node still running. */
  topology(): Promise<ClusterNodeInfo[]>;
  /** The running node serving `port`. */
  node(port: number): PrivateRedis;
  /**
   * Resolves when every running node says cluster_state:ok, all slots are served by running masters and every
   * running replica's link to its master is up (synced: a failover can promote it).
   */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Stops every node and removes their dirs. */
  dispose(): Promise<void>;
}

const FULL = 16384;

/** Ports p with p + 10000 (the cluster bus) free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const p = await freePort();
    if (p + 10_000 > 65_535 || taken.has(p)) continue;
    const bus = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(p + 10_000, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (bus) {
      taken.add(p);
      return p;
    }
  }
  throw new ServiceUnavailableError('no free port pair (port, port+10000) for a private Redis Cluster node');
}

export function parseClusterNodes(text: string): ClusterNodeInfo[] {
  const out: ClusterNodeInfo[] = [];
  for (const line of text.trim().split('\n')) {
    const f = line.split(' ');
    if (f.length < 8) continue;
    const [id, addr, flags, master] = f as [string, string, string, string];
    const port = Number(addr.split('@')[0]!.split(':').pop());
    const slots: Array<[number, number]> = [];
    for (const s of f.slice(8)) {
      if (s.startsWith('[')) continue; // importing/migrating
      const [a, b] = s.split('-');
      slots.push([Number(a), Number(b ?? a)]);
    }
    const isMaster = flags.includes('master');
    out.push({
      id,
      port,
      role: isMaster ? 'master' : 'replica',
      ...(isMaster ? {} : { masterId: master }),
      slots,
      failed: flags.split(',').includes('fail'),
    });
  }
  return out;
}

async function ask<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  r.on('error', () => {});
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

export async function startPrivateRedisCluster(
  opts: PrivateRedisClusterOptions = {},
): Promise<PrivateRedisCluster> {
  const cli = which('redis-cli');
  if (!cli) {
    throw new ServiceUnavailableError(
      'no redis-cli on PATH (it creates the private Redis Cluster): install redis-tools (apt install redis-tools)',
    );
  }
  const masters = opts.masters ?? 3;
  const replicas = opts.replicas ?? 1;
  const total = masters * (1 + replicas);
  const taken = new Set<number>();
  const nodes: PrivateRedis[] = [];
  const dispose = async () => {
    await Promise.all(nodes.map((n) => n.dispose()));
  };
  try {
    for (let i = 0; i < total; i++) {
      const port = await clusterPort(taken);
      nodes.push(
        await startPrivateRedis({
          port,
          aof: opts.aof ?? false,
          extraArgs: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            String(opts.nodeTimeoutMs ?? 1000),
            // A replica's first sync starts at once (default: 5 s later): until it has synced, a killed master is
            // never replaced (the replica has no data to promote) and tests would wait out the failover.
            '--repl-diskless-sync-delay',
            '0',
          ],
        }),
      );
    }
    await run(
      cli,
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
  } catch (err) {
    await dispose();
    if (err instanceof ServiceUnavailableError) throw err;
    throw new ServiceUnavailableError(
      `private Redis Cluster failed to start: ${(err as Error).message.split('\n')[0]}`,
    );
  }

  const running = () => nodes.filter((n) => n.running);
  const topology = async (): Promise<ClusterNodeInfo[]> => {
    for (const n of running()) {
      try {
        return parseClusterNodes(await ask(n.port, (r) => r.call('CLUSTER', 'NODES') as Promise<string>));
      } catch {
        // next node
      }
    }
    throw new Error('no cluster node answers');
  };
  const healthy = async (): Promise<boolean> => {
    try {
      for (const n of running()) {
        const info = await ask(n.port, (r) => r.call('CLUSTER', 'INFO') as Promise<string>);
        if (!/cluster_state:ok/.test(info) || !new RegExp(`cluster_slots_ok:${FULL}`).test(info))
          return false;
      }
      const live = new Set(running().map((n) => n.port));
      const topo = await topology();
      let served = 0;
      for (const m of topo) {
        if (m.role !== 'master' || m.failed || !live.has(m.port)) continue;
        for (const [a, b] of m.slots) served += b - a + 1;
      }
      if (served !== FULL) return false;
      // Every running replica has synced with its master (a failover can promote it).
      for (const n of running()) {
        const repl = await ask(n.port, (r) => r.info('replication'));
        if (/role:slave/.test(repl) && !/master_link_status:up/.test(repl)) return false;
      }
      return true;
    } catch {
      return false;
    }
  };
  const waitHealthy = async (timeoutMs = 30_000) => {
    if (!(await waitFor(healthy, timeoutMs, 200)))
      throw new Error(`private Redis Cluster not healthy within ${timeoutMs} ms`);
  };
  try {
    await waitHealthy();
  } catch (err) {
    await dispose();
    throw new ServiceUnavailableError((err as Error).message);
  }
  return {
    urls: nodes.map((n) => n.url),
    nodes,
    topology,
    node(port) {
      const n = nodes.find((x) => x.port === port);
      if (!n) throw new Error(`no cluster node on port ${port}`);
      return n;
    },
    waitHealthy,
    dispose,
  };
}
