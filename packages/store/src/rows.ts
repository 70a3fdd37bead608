import type { MessageStatus } from '@fleet/protocol';
import type { StoredMessage } from './types.js';

/** A `messages` row as the statements returning StoredMessage columns read it (sent_at as ms). */
export interface MessageRow {
  seq: string;
  id: string;
  stream_id: string | null;
  topic: string;
  type: string;
  priority: number;
  sent_ms: number;
  envelope: Buffer;
  headers: Record<string, string>;
  traceparent: string | null;
  reply_to: string | null;
  status: MessageStatus;
  retry_count: number;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
}

export function toStored(r: MessageRow): StoredMessage {
  const m: StoredMessage = {
    seq: r.seq,
    id: r.id,
    streamId: r.stream_id ?? '',
    envelope: r.envelope,
    topic: r.topic,
    type: r.type,
    priority: r.priority,
    timestamp: r.sent_ms,
    headers: r.headers,
    status: r.status,
    retryCount: r.retry_count,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
  if (r.traceparent !== null) m.traceparent = r.traceparent;
  if (r.reply_to !== null) m.replyTo = r.reply_to;
  if (r.last_error !== null) m.lastError = r.last_error;
  return m;
}

/** Rows in log order (RETURNING order is unspecified). */
export function toStoredSorted(rows: MessageRow[]): StoredMessage[] {
  return rows.map(toStored).sort((a, b) => compareSeq(a.seq, b.seq));
}

function compareSeq(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** Ids sorted: statements that change rows by id lock them in this order, so concurrent calls cannot deadlock. */
export function inIdOrder(ids: readonly string[]): string[] {
  return [...ids].sort();
}
