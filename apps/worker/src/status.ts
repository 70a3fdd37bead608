import { encodeStatusEntry, groupOutcomes, type MessageOutcome } from '@fleet/protocol';
import type { ChainableCommander } from 'ioredis';

/** One message outcome as the worker reports it (timed); the persister's row update is its own StatusUpdate. */
export type ReportedOutcome = MessageOutcome & { at: number };

/**
 * Queues the XADDs of a job's outcomes on a pipeline: one status entry per distinct outcome, all on the
 * status stream of the job's shard (`keys.statusStream(n)`). A pipeline never mixes shards: on a cluster
 * it must stay in one slot, and the shard's tag puts its status stream in its queue's slot.
 */
export function queueStatuses(
  pipe: ChainableCommander,
  statusStream: string,
  updates: readonly ReportedOutcome[],
): void {
  for (const entry of groupOutcomes(updates)) pipe.xadd(statusStream, '*', ...encodeStatusEntry(entry));
}

/** Throws when any command of an exec()'d pipeline failed. */
export function checkPipeline(results: Array<[Error | null, unknown]> | null, what: string): void {
  if (!results) throw new Error(`${what}: pipeline discarded`);
  const failed = results.find(([err]) => err);
  if (failed) throw new Error(`${what}: ${failed[0]!.message}`);
}
