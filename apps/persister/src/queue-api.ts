import type { NewMessage, OffsetUpdate, StatusUpdate, StoredMessage } from '@fleet/store';

export type { NewMessage, OffsetUpdate, StatusUpdate, StoredMessage };

/**
 * The stream side's view of the persistent queue (@fleet/store's PersistStore): the agreed contract as
 * a structural interface, so the stream side depends only on the operations it calls.
 */
export interface QueueApi {
  persistBatch(
    rows: NewMessage[],
    offsets: OffsetUpdate[],
  ): Promise<{ inserted: string[]; invalid?: string[] }>;
  applyStatuses(updates: StatusUpdate[]): Promise<unknown>;
  reprocessFailed(maxRetries?: number): Promise<{ requeued: StoredMessage[]; dead: string[] }>;
  countPending(bound?: number): Promise<number>;
  saveOffset(group: string, topic: string, offset: string): Promise<void>;
  loadOffset(group: string, topic: string): Promise<string | null>;
  sweepStale(olderThanMs: number, limit: number): Promise<StoredMessage[]>;
  sweepIds(ids: readonly string[], olderThanMs: number): Promise<StoredMessage[]>;
  pendingIds(ids: readonly string[], olderThanMs?: number): Promise<string[]>;
  readFrom(afterSeq: bigint | string, limit: number, topic?: string): Promise<StoredMessage[]>;
  listDead(opts: { limit: number; topic?: string }): Promise<StoredMessage[]>;
  countDead(opts: { bound: number; topic?: string }): Promise<{ n: number; exact: boolean }>;
  replayDead(ids: string[] | 'all'): Promise<StoredMessage[]>;
  purgeDead(ids: string[] | 'all'): Promise<number>;
  insertDeadEntry(
    stream: string,
    streamId: string,
    reason: string,
    fields: Record<string, string>,
  ): Promise<void>;
}
