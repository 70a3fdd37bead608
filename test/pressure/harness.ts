// Shared by the pressure tests: gateway + persister as real processes (workers started later), a flood
// of publishes until the gateway answers OVERLOADED, and waiting for every ACKed id to be COMPLETED.

import { connect, type FleetClient, FleetError } from '@fleet/client';
import type { FleetConfig } from '@fleet/config';
import { ErrorCode, MessageStatus } from '@fleet/protocol';
import { freePort } from '@fleet/services';
import pg from 'pg';
import { type DeepPartial, writeTestConfig } from '../helpers/config.js';
import { type AppProcess, killAllApps, spawnApp } from '../helpers/processes.js';
import { type FreshDatabase, freshDatabase, uniquePrefix } from '../helpers/services.js';

export const log = (line: string) => console.log(`[pressure] ${line}`);

/** Every publish of the flood carries this much payload (the memory a message costs is mostly it). */
export const PAYLOAD_BYTES = 1_024;
const PAYLOAD = { data: 'x'.repeat(PAYLOAD_BYTES) };
const TOPIC = 'pressure.flood';
const CLIENTS = 4;
/** Publishes each client keeps unanswered during the flood. */
const PER_CLIENT = 200;
/** Generous: the machine is shared and loaded. */
export const READY_MS = 60_000;

export interface Fleet {
  gatewayPort: number;
  db: FreshDatabase;
  apps: AppProcess[];
  startWorkers(n: number): Promise<void>;
  /** Starts the persister when startFleet was told `persisterLater`. */
  startPersister(): Promise<void>;
  output(): string;
  stop(): Promise<void>;
}

export async function startFleet(
  redisUrl: string,
  overrides: DeepPartial<FleetConfig>,
  opts: { persisterLater?: boolean } = {},
): Promise<Fleet> {
  const db = await freshDatabase('pressure');
  const gatewayPort = await freePort();
  const { path } = await writeTestConfig({
    network: { host: '127.0.0.1', port: gatewayPort, max_in_flight: 2_000 },
    redis: { url: redisUrl, key_prefix: uniquePrefix('pressure') },
    database: { connection_string: db.url, pool: { max_connections: 4 } },
    // No handler modules: every message is unrouted, and unrouted completes (a worker's cheapest job).
    handlers: { unrouted: 'complete' },
    ...overrides,
  });
  const apps: AppProcess[] = [];
  const start = async (app: 'gateway' | 'persister' | 'worker') => {
    const proc = spawnApp(app, { config: path });
    apps.push(proc);
    await proc.waitReady(READY_MS);
  };
  if (!opts.persisterLater) await start('persister');
  await start('gateway');
  return {
    gatewayPort,
    db,
    apps,
    startPersister: () => start('persister'),
    async startWorkers(n) {
      await Promise.all(Array.from({ length: n }, () => start('worker')));
    },
    output: () => apps.map((a) => a.output()).join('\n'),
    async stop() {
      await Promise.all(apps.map((a) => a.stop(5_000).catch(() => undefined)));
      killAllApps();
      await db.drop().catch(() => undefined);
    },
  };
}

export interface FloodResult {
  acked: string[];
  /** What `onOverloaded` returned, called once at the first OVERLOADED answer (before the flood stops). */
  atOverloaded: unknown;
}

/**
 * Publishes from several pipelining clients until the gateway answers OVERLOADED (or `maxMessages`).
 * `onOverloaded` runs at the first OVERLOADED, while the flood is still going (that is the moment to
 * check Redis has refused nothing yet).
 */
export async function floodUntilOverloaded(
  port: number,
  onOverloaded: () => Promise<unknown>,
  maxMessages = 2_000_000,
): Promise<FloodResult> {
  const clients: FleetClient[] = await Promise.all(
    Array.from({ length: CLIENTS }, (_, i) =>
      connect({ host: '127.0.0.1', port, clientName: `flood-${i}`, window: PER_CLIENT, reconnect: false }),
    ),
  );
  const acked: string[] = [];
  let sent = 0;
  let overloaded: Promise<unknown> | null = null;
  const loop = async (client: FleetClient) => {
    while (!overloaded && sent < maxMessages) {
      sent++;
      try {
        const r = await client.publish(TOPIC, PAYLOAD);
        acked.push(r.id);
      } catch (err) {
        if (!(err instanceof FleetError) || err.code !== ErrorCode.OVERLOADED) throw err;
        overloaded ??= onOverloaded();
      }
    }
  };
  try {
    await Promise.all(clients.flatMap((c) => Array.from({ length: PER_CLIENT }, () => loop(c))));
  } finally {
    await Promise.all(clients.map((c) => c.close({ drainTimeoutMs: 30_000 })));
  }
  if (!overloaded) throw new Error(`the gateway never answered OVERLOADED (${acked.length} ACKed)`);
  return { acked, atOverloaded: await overloaded };
}

/** Publishes one message until it is ACKed (OVERLOADED answers are retried); resolves when ACKed. */
export async function publishOnceAccepted(port: number, deadlineMs: number): Promise<void> {
  const client = await connect({ host: '127.0.0.1', port, clientName: 'after', reconnect: false });
  const deadline = Date.now() + deadlineMs;
  try {
    for (;;) {
      try {
        await client.publish(TOPIC, { after: true });
        return;
      } catch (err) {
        if (!(err instanceof FleetError) || err.code !== ErrorCode.OVERLOADED || Date.now() > deadline)
          throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } finally {
    await client.close();
  }
}

/** Waits until every id is COMPLETED in `messages` (polls; rejects after deadlineMs with the counts). */
export async function waitAllCompleted(dbUrl: string, ids: string[], deadlineMs: number): Promise<void> {
  const pool = new pg.Pool({ connectionString: dbUrl, max: 1 });
  const deadline = Date.now() + deadlineMs;
  try {
    for (;;) {
      const { rows } = await pool.query<{ status: string; n: string }>(
        'SELECT status, count(*) AS n FROM messages WHERE id = ANY($1) GROUP BY status',
        [ids],
      );
      const completed = Number(rows.find((r) => r.status === MessageStatus.COMPLETED)?.n ?? 0);
      if (completed === ids.length) return;
      if (Date.now() > deadline)
        throw new Error(`${completed}/${ids.length} COMPLETED by the deadline: ${JSON.stringify(rows)}`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
  } finally {
    await pool.end();
  }
}
