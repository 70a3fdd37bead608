import type { FleetConfig } from '@fleet/config';
import { FleetKeys } from '@fleet/protocol';
import { createPool, PersistStore } from '@fleet/store';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Dispatcher } from './dispatcher.js';

/**
 * What operator tools (the `fleet` CLI's replay and dead-letters commands) need without running a
 * persister: the store on Postgres and a dispatcher on the fleet's BullMQ queue.
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
  const conn = new Redis(cfg.redis.url, { maxRetriesPerRequest: 1 });
  conn.on('error', () => {});
  const bull = new Queue(cfg.queue.name, { connection: conn, prefix: keys.bullPrefix() });
  bull.on('error', () => {});
  const dispatcher = new Dispatcher(bull, () => ({
    batchSize: cfg.queue.batch_size,
    maxJobBytes: cfg.queue.max_job_bytes,
  }));
  return {
    store: new PersistStore(pool),
    dispatcher,
    async close() {
      await bull.close().catch(() => {});
      conn.disconnect();
      await pool.end().catch(() => {});
    },
  };
}
