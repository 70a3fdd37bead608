import type { FleetConfig } from '@fleet/config';
import { FleetKeys } from '@fleet/protocol';
import { createRedis } from '@fleet/redis';
import { createPool, PersistStore } from '@fleet/store';
import { Dispatcher, dispatchLimits } from './dispatcher.js';
import { JobQueue } from './job-queue.js';

/**
 * What operator tools (the `fleet` CLI's replay and dead-letters commands) need without running a
 * persister: the store on Postgres and a dispatcher on every shard's BullMQ queue (standalone or cluster,
 * as redis.mode says; replayed rows go to the queue of their topic's shard).
 */
export interface OpsContext {
  store: PersistStore;
  dispatcher: Dispatcher;
  close(): Promise<void>;
}

export function openOpsContext(cfg: FleetConfig): OpsContext {
  const pool = createPool(
    cfg.database.connection_string,
    { ...cfg.database.pool, min_connections: 0, max_connections: 2 },
    {
      applicationName: 'fleet-cli',
    },
  );
  const keys = new FleetKeys(cfg.redis.key_prefix, cfg.streams.shards);
  // One connection for every shard's queue (BullMQ's Queue only sends commands on it, never blocks).
  const conn = createRedis(cfg.redis, 'queue', { redis: { maxRetriesPerRequest: 1 } });
  conn.on('error', () => {});
  const queues = keys.shardList().map((n) => {
    const q = new JobQueue(cfg.queue.name, { connection: conn, prefix: keys.bullPrefix(n) });
    q.on('error', () => {});
    return q;
  });
  const dispatcher = new Dispatcher(queues, keys, () => dispatchLimits(cfg));
  return {
    store: new PersistStore(pool),
    dispatcher,
    async close() {
      await Promise.all(queues.map((q) => q.close().catch(() => {})));
      conn.disconnect();
      await pool.end().catch(() => {});
    },
  };
}
