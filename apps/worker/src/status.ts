import { Backoff, sleep } from '@fleet/pressure';
import { encodeStatusEntry, groupOutcomes, type MessageOutcome } from '@fleet/protocol';
import type { FleetRedis } from '@fleet/redis';
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

/**
 * How long a job's outcomes are written again after a failure before the job fails. The handlers already
 * ran: a failed job leaves its rows to the sweep, which runs them again, so a transient failure (a master
 * failover: connection closed, CLUSTERDOWN, redirections to a dead master, for a few seconds) is waited
 * out. A repeated XADD after a lost reply is harmless: applying an outcome twice changes nothing.
 */
export const OUTCOME_RETRY_MS = 15_000;

/** XADDs `updates` to `statusStream`, again after failures for up to `retryMs`; throws the last failure. */
export async function sendOutcomes(
  redis: FleetRedis,
  statusStream: string,
  updates: readonly ReportedOutcome[],
  onRetry: (err: Error) => void,
  retryMs = OUTCOME_RETRY_MS,
): Promise<void> {
  if (updates.length === 0) return;
  const deadline = Date.now() + retryMs;
  const backoff = new Backoff(50, 1_000);
  for (;;) {
    const pipe = redis.pipeline();
    queueStatuses(pipe, statusStream, updates);
    try {
      checkPipeline(await pipe.exec(), 'status outcomes');
      return;
    } catch (err) {
      const wait = backoff.next();
      if (Date.now() + wait > deadline) throw err;
      onRetry(err as Error);
      await sleep(wait);
    }
  }
}
