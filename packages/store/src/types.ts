import type { MessageStatus } from '@fleet/protocol';

/** A message as the stream consumer hands it to Postgres (fields lifted out of the envelope for SQL). */
export interface NewMessage {
  id: string;
  /** Redis stream entry id it came from. */
  streamId: string;
  /** The binary envelope (@fleet/protocol codec), stored and re-dispatched byte for byte. */
  envelope: Buffer;
  topic: string;
  type: string;
  priority: number;
  /** Envelope timestamp, ms since epoch. */
  timestamp: number;
  /** Trace reference: a W3C traceparent, or a derived mark whose id is traceable (@fleet/protocol
   *  trace-ref.ts; the persister's decoder makes sure of it). Postgres stores the full traceparent. */
  traceparent?: string;
  replyTo?: string;
  headers: Record<string, string>;
}

/** A `messages` row. */
export interface StoredMessage extends NewMessage {
  /** Durable-log offset (bigint as a decimal string). */
  seq: string;
  status: MessageStatus;
  retryCount: number;
  lastError?: string;
  createdAt: Date;
  updatedAt: Date;
}

/** One outcome reported by a worker. `attempt` is the retry count the job carried. */
export interface StatusUpdate {
  id: string;
  status: MessageStatus;
  error?: string;
  attempt: number;
}

export interface OffsetUpdate {
  group: string;
  topic: string;
  offset: string;
}

/** An undecodable stream entry kept for ops. */
export interface DeadEntry {
  stream: string;
  streamId: string;
  reason: string;
  fields: Record<string, string>;
  createdAt: Date;
}
