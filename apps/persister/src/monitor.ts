import { QUEUE_JOB_STATES } from '@fleet/metrics';
import { type FleetKeys, PERSISTER_GROUP, STATUS_GROUP } from '@fleet/protocol';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { PersisterMetrics } from './metrics.js';
import { groupState } from './redis-streams.js';

const JOB_STATES = QUEUE_JOB_STATES;

/** Samples queue depth, stream length, lag and pending into the gauges (every monitoring.interval_ms). */
export async function sampleBacklog(
  redis: Redis,
  bull: Queue,
  keys: FleetKeys,
  m: PersisterMetrics,
): Promise<void> {
  const counts = await bull.getJobCounts(...JOB_STATES);
  for (const state of JOB_STATES) m.queueJobs.set({ queue: bull.name, state }, counts[state] ?? 0);
  const streams: [string, string][] = keys.ingestStreams().map((s) => [s, PERSISTER_GROUP]);
  streams.push([keys.statusStream(), STATUS_GROUP]);
  for (const [stream, group] of streams) {
    m.streamLength.set({ stream }, await redis.xlen(stream));
    const st = await groupState(redis, stream, group).catch(() => null);
    if (!st) continue;
    m.streamPending.set({ stream }, st.pending);
    if (st.lag !== null) m.streamLag.set({ stream }, st.lag);
  }
}
