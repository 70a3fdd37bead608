/** Status of a message in Postgres (`messages.status`), as workers report it on the status stream. */
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
