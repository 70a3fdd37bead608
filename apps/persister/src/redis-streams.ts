import { compareStreamIds, entryFields, nextStreamId } from '@fleet/protocol';
import type { FleetRedis } from '@fleet/redis';
import type { RawEntry } from './stream-entry-decoder.js';

/** Consumer-group plumbing over ioredis (binary-safe replies), shared by the ingest and status consumers. */

/** XGROUP CREATE ... 0 MKSTREAM; an existing group is fine. */
export async function ensureGroup(redis: FleetRedis, stream: string, group: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
  } catch (err) {
    if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
  }
}

type RawStreamReply = [Buffer, [Buffer, Buffer[] | null][]][] | null;

function toEntries(stream: string, list: [Buffer, Buffer[] | null][]): RawEntry[] {
  const out: RawEntry[] = [];
  // A null field list is an entry deleted (trimmed) while pending: nothing to persist; the caller acks it.
  for (const [id, flat] of list)
    out.push({ stream, id: id.toString(), fields: flat ? entryFields(flat) : new Map() });
  return out;
}

/**
 * XREADGROUP over several streams: `ids` per stream ('>' = new entries, '0' = own pending). On a Redis
 * Cluster pass one stream (keys of two shards hash to different slots: CROSSSLOT).
 */
export async function readGroup(
  redis: FleetRedis,
  group: string,
  consumer: string,
  streams: string[],
  ids: string[],
  count: number,
  blockMs?: number,
): Promise<RawEntry[]> {
  const args: (string | number)[] = ['GROUP', group, consumer, 'COUNT', count];
  if (blockMs !== undefined) args.push('BLOCK', blockMs);
  args.push('STREAMS', ...streams, ...ids);
  const reply = (await redis.callBuffer('XREADGROUP', ...args)) as RawStreamReply;
  if (!reply) return [];
  const out: RawEntry[] = [];
  for (const [name, list] of reply) out.push(...toEntries(name.toString(), list));
  return out;
}

export interface GroupState {
  lastDeliveredId: string;
  pending: number;
  lag: number | null;
  oldestPendingId: string | null;
}

/** XINFO GROUPS + XPENDING summary for one group. */
export async function groupState(
  redis: FleetRedis,
  stream: string,
  group: string,
): Promise<GroupState | null> {
  const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
  for (const g of groups) {
    const info = new Map<string, unknown>();
    for (let i = 0; i + 1 < g.length; i += 2) info.set(String(g[i]), g[i + 1]);
    if (info.get('name') !== group) continue;
    const summary = (await redis.xpending(stream, group)) as [number, string | null, string | null, unknown];
    const lag = info.get('lag');
    return {
      lastDeliveredId: String(info.get('last-delivered-id')),
      pending: Number(info.get('pending')),
      lag: lag === null || lag === undefined ? null : Number(lag),
      oldestPendingId: summary[0] > 0 ? summary[1] : null,
    };
  }
  return null;
}

/**
 * The MINID below which every entry has been acknowledged by the group: the oldest pending entry, or the
 * successor of the last delivered one when nothing is pending (Redis 7.0 has no XACKDEL).
 */
export function safeMinId(state: GroupState): string | null {
  if (state.lastDeliveredId === '0-0') return null;
  const afterDelivered = nextStreamId(state.lastDeliveredId);
  if (state.oldestPendingId === null) return afterDelivered;
  return compareStreamIds(state.oldestPendingId, afterDelivered) < 0 ? state.oldestPendingId : afterDelivered;
}

/**
 * XTRIM MINID for a stream read by exactly the given groups: only below what all of them acknowledged.
 * Returns entries removed.
 */
export async function trimAcknowledged(redis: FleetRedis, stream: string, groups: string[]): Promise<number> {
  let min: string | null = null;
  for (const group of groups) {
    const st = await groupState(redis, stream, group);
    if (!st) return 0;
    const id = safeMinId(st);
    if (id === null) return 0;
    if (min === null || compareStreamIds(id, min) < 0) min = id;
  }
  if (min === null) return 0;
  return (await redis.xtrim(stream, 'MINID', min)) as number;
}

/**
 * XGROUP DELCONSUMER only while the consumer has nothing pending, checked in the same script: DELCONSUMER
 * drops a consumer's pending entries with it (they would never be delivered again), and a consumer taken
 * for dead that wakes up could read new entries between a separate check and the delete.
 */
const DELETE_IF_NOTHING_PENDING = `
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1`;

/**
 * Removes the group's consumers that `minIdleFor(name)` gives up (null: keep, e.g. a live persister) once
 * they have nothing pending and are idle at least that long. Returns the names removed.
 */
export async function removeConsumers(
  redis: FleetRedis,
  stream: string,
  group: string,
  minIdleFor: (consumer: string) => number | null,
  keep: string,
): Promise<string[]> {
  const removed: string[] = [];
  for (const c of await listConsumers(redis, stream, group)) {
    if (c.name === keep || c.pending > 0) continue;
    const minIdle = minIdleFor(c.name);
    if (minIdle === null || c.idle < minIdle) continue;
    if ((await redis.eval(DELETE_IF_NOTHING_PENDING, 1, stream, group, c.name)) === 1) removed.push(c.name);
  }
  return removed;
}

export interface ConsumerInfo {
  name: string;
  pending: number;
  idle: number;
}

/** XINFO CONSUMERS: name, pending count and idle time (ms) of each consumer of the group. */
export async function listConsumers(
  redis: FleetRedis,
  stream: string,
  group: string,
): Promise<ConsumerInfo[]> {
  const consumers = (await redis.xinfo('CONSUMERS', stream, group)) as unknown[][];
  return consumers.map((c) => {
    const info = new Map<string, unknown>();
    for (let i = 0; i + 1 < c.length; i += 2) info.set(String(c[i]), c[i + 1]);
    return {
      name: String(info.get('name')),
      pending: Number(info.get('pending')),
      idle: Number(info.get('idle')),
    };
  });
}

/**
 * Moves up to `count` of `from`'s pending entries idle at least `minIdleMs` to `to` (XPENDING + XCLAIM) and
 * returns them. XCLAIM re-checks the idle time and resets it, so when two claimers race for the same
 * entries only the first gets them. Entries deleted while pending come back with no fields (the caller
 * acknowledges them).
 */
export async function claimFrom(
  redis: FleetRedis,
  stream: string,
  group: string,
  from: string,
  to: string,
  minIdleMs: number,
  count: number,
): Promise<RawEntry[]> {
  const pending = (await redis.call('XPENDING', stream, group, 'IDLE', minIdleMs, '-', '+', count, from)) as [
    string,
    string,
    number,
    number,
  ][];
  if (pending.length === 0) return [];
  const ids = pending.map((p) => p[0]);
  const reply = (await redis.callBuffer('XCLAIM', stream, group, to, minIdleMs, ...ids)) as [
    Buffer,
    Buffer[] | null,
  ][];
  return toEntries(
    stream,
    reply.filter((e) => e !== null),
  );
}

/**
 * One claim pass over a stream: for every other consumer holding pending entries, `minIdleFor(name)` says
 * how idle an entry must be to take it (null: never, the consumer is alive); returns up to `count` entries.
 */
export async function claimAbandoned(
  redis: FleetRedis,
  stream: string,
  group: string,
  me: string,
  minIdleFor: (consumer: string) => number | null,
  count: number,
): Promise<RawEntry[]> {
  const out: RawEntry[] = [];
  for (const c of await listConsumers(redis, stream, group)) {
    if (c.name === me || c.pending === 0 || out.length >= count) continue;
    const minIdle = minIdleFor(c.name);
    if (minIdle === null) continue;
    out.push(...(await claimFrom(redis, stream, group, c.name, me, minIdle, count - out.length)));
  }
  return out;
}
