import { QUEUE_JOB_STATES } from '@fleet/metrics';
import { type FleetKeys, PERSISTER_GROUP, STATUS_GROUP } from '@fleet/protocol';
import type { FleetRedis } from '@fleet/redis';
import type { Queue } from 'bullmq';
import type { PersisterMetrics } from './metrics.js';
import { groupState, safeMinId } from './redis-streams.js';

const JOB_STATES = QUEUE_JOB_STATES;

/**
 * Samples queue depth, stream length, lag, pending and backlog age into the gauges (every
 * monitoring.interval_ms).
 * Queue depth is summed over the shards' queues (one BullMQ queue per shard, all of the same name: the
 * `queue` label stays the queue's name); streams are sampled one by one (each key alone, cluster-safe).
 */
export async function sampleBacklog(
  redis: FleetRedis,
  queues: readonly Queue[],
  keys: FleetKeys,
  m: PersisterMetrics,
): Promise<void> {
  const perQueue = await Promise.all(queues.map((q) => q.getJobCounts(...JOB_STATES)));
  const byName = new Map<string, Record<string, number>>();
  queues.forEach((q, i) => {
    const sum = byName.get(q.name) ?? {};
    for (const state of JOB_STATES) sum[state] = (sum[state] ?? 0) + (perQueue[i]![state] ?? 0);
    byName.set(q.name, sum);
  });
  for (const [queue, counts] of byName)
    for (const state of JOB_STATES) m.queueJobs.set({ queue, state }, counts[state] ?? 0);
  const streams: [string, string][] = keys.ingestStreams().map((s) => [s, PERSISTER_GROUP]);
  for (const s of keys.statusStreams()) streams.push([s, STATUS_GROUP]);
  for (const [stream, group] of streams) {
    m.streamLength.set({ stream }, await redis.xlen(stream));
    const st = await groupState(redis, stream, group).catch(() => null);
    if (!st) continue;
    m.streamPending.set({ stream }, st.pending);
    if (st.lag !== null) m.streamLag.set({ stream }, st.lag);
    m.streamBacklogAge.set({ stream }, await backlogAgeSeconds(redis, stream, safeMinId(st) ?? '-'));
  }
}

/**
 * Age of the first entry at or after `from` (the oldest the group has not acknowledged), from its id: the
 * gateway's XADD uses `*`, so an id's first part is Redis' clock in ms when the entry was appended.
 */
async function backlogAgeSeconds(redis: FleetRedis, stream: string, from: string): Promise<number> {
  const [first] = await redis.xrange(stream, from, '+', 'COUNT', 1);
  if (!first) return 0;
  return Math.max(0, (Date.now() - Number(first[0].split('-', 1)[0])) / 1_000);
}
