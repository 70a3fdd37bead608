/**
 * The BullMQ job payload: a batch of messages (1 = the classic one job per message).
 * Binary envelopes travel base64-encoded because BullMQ stores job data as JSON.
 */
export const JOB_NAME = 'batch';

export interface JobMessage {
  /** Message id (the `messages` row key). */
  id: string;
  /** base64 of the binary envelope. */
  e: string;
  /** traceparent in force for this message (envelope's or gateway-assigned). */
  t?: string;
  /** Reply address for requests (`<gatewayId>|<correlationId>`). */
  r?: string;
  /** Retry count of this attempt (0 on first delivery). */
  n: number;
}

export interface JobData {
  v: 1;
  messages: JobMessage[];
}

/** Status of a message in Postgres. */
export const MessageStatus = {
  PENDING: 'PENDING',
  PROCESSING: 'PROCESSING',
  COMPLETED: 'COMPLETED',
  FAILED: 'FAILED',
  DEAD: 'DEAD',
} as const;
export type MessageStatus = (typeof MessageStatus)[keyof typeof MessageStatus];

/** Errors with which a worker itself dead-letters a message (status DEAD, never retried; counted by reason). */
export const DeadReason = {
  /** No subscription matched its topic. */
  unrouted: 'unrouted',
  /** Handled after its envelope ttl ran out. */
  expired: 'expired',
} as const;

/** Fields of one status-stream entry (worker -> persister); codec in status-entry.ts. */
export const StatusField = {
  /** One message id (an entry for a single message). */
  id: 'i',
  /** JSON array of message ids sharing the entry's status, attempt and error (one entry per job). */
  ids: 'I',
  /** PROCESSING | COMPLETED | FAILED | DEAD */
  status: 's',
  /** Error text for FAILED / DEAD (e.g. `unrouted`). */
  error: 'x',
  /** Retry count the outcome belongs to (stale outcomes of older attempts are ignored). */
  attempt: 'n',
  /** Milliseconds since epoch when the outcome happened. */
  at: 'a',
} as const;
