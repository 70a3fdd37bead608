import { ErrorCode } from '@fleet/protocol';

/**
 * Why an XADD failed, from ioredis' error text, and what the client is told. MOVED and ASK never get here:
 * the Cluster client follows them (and refreshes its slot map). Everything else fails fast and is
 * answered at once; the client resends (docs/protocol.md, ERROR UNAVAILABLE):
 * - `oom`: Redis is out of memory (OOM reply): OVERLOADED.
 * - `clusterdown` / `tryagain`: a failover or resharding under way (CLUSTERDOWN, TRYAGAIN replies, retried a
 *   few times by ioredis first): UNAVAILABLE.
 * - `redirections`: ioredis gave up after its redirection budget (its message carries the last error).
 * - `connection`: not connected, connection lost with the XADD in flight (no resend: it may or may not
 *   be stored; the client resends with the same id), or no node serving the slot: UNAVAILABLE.
 * - `timeout`: no reply within the command timeout: UNAVAILABLE.
 * - `other`: anything else Redis answered: UNAVAILABLE.
 */
export type AppendErrorCause =
  | 'oom'
  | 'clusterdown'
  | 'tryagain'
  | 'redirections'
  | 'connection'
  | 'timeout'
  | 'other';

export function appendErrorCause(message: string): AppendErrorCause {
  if (message.startsWith('OOM')) return 'oom';
  if (message.startsWith('Too many Cluster redirections')) return 'redirections';
  if (message.startsWith('CLUSTERDOWN')) return 'clusterdown';
  if (message.startsWith('TRYAGAIN')) return 'tryagain';
  if (/timed out/i.test(message)) return 'timeout';
  if (
    /connection is closed|not connected|max retries per request|isn't ready|ECONNREFUSED|ECONNRESET|Cluster is ended|No sharded subscriber|Stream isn't writeable/i.test(
      message,
    )
  )
    return 'connection';
  return 'other';
}

/** The error code a failed append is answered with (as before cluster support: OOM anywhere in the text). */
export function appendErrorCode(message: string): number {
  return /OOM/.test(message) ? ErrorCode.OVERLOADED : ErrorCode.UNAVAILABLE;
}
