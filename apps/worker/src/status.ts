import { type FleetKeys, type MessageStatus, StatusField } from '@fleet/protocol';
import type { ChainableCommander } from 'ioredis';

/** One message outcome for the persister (status stream entry). */
export interface StatusUpdate {
  id: string;
  status: MessageStatus;
  attempt: number;
  error?: string;
  at: number;
}

/** Longest error text put in a status entry (the full error is in the worker's log). */
export const MAX_STATUS_ERROR = 1_000;

/** Queues one XADD of a status entry on a pipeline. */
export function queueStatus(pipe: ChainableCommander, keys: FleetKeys, u: StatusUpdate): void {
  const fields: string[] = [
    StatusField.id,
    u.id,
    StatusField.status,
    u.status,
    StatusField.attempt,
    String(u.attempt),
    StatusField.at,
    String(u.at),
  ];
  if (u.error !== undefined) fields.push(StatusField.error, u.error.slice(0, MAX_STATUS_ERROR));
  pipe.xadd(keys.statusStream(), '*', ...fields);
}

/** Throws when any command of an exec()'d pipeline failed. */
export function checkPipeline(results: Array<[Error | null, unknown]> | null, what: string): void {
  if (!results) throw new Error(`${what}: pipeline discarded`);
  const failed = results.find(([err]) => err);
  if (failed) throw new Error(`${what}: ${failed[0]!.message}`);
}
