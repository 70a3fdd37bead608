import type { Socket } from 'node:net';
import type { FrameDecoder } from '@fleet/protocol';

/** A REQUEST waiting for its reply, or a `durable` publish waiting for the persister's commit. */
export interface Waiter {
  conn: Connection;
  corr: number;
  kind: typeof WaitKind.DURABLE | typeof WaitKind.REQUEST;
  /** Request correlation id (`<connId>:<corr>`) or durable message id. */
  key: string;
  /** Stream id once the XADD succeeded (durable). */
  streamId: string | null;
  /** The commit notification arrived before the XADD reply (durable). */
  committed: boolean;
  /** Answered, expired or abandoned: later events for it are ignored. */
  done: boolean;
  /** performance.now() when the frame was taken in (durable ACK latency). */
  since: number;
}
export const WaitKind = { DURABLE: 1, REQUEST: 2 } as const;

/** Per-socket state. Everything else lives in the gateway so the hot path touches few objects. */
export class Connection {
  hello = false;
  /** Socket gone: answers for it are dropped. */
  closed = false;
  /** A closing ERROR was sent: further input is ignored. */
  ending = false;
  /** Frames read and not yet answered (the per-connection window). */
  inFlight = 0;
  paused = false;
  clientName = '';
  /** Answers queued for the next batched write. */
  out: Buffer[] = [];
  outQueued = false;
  /** Pending requests / durable publishes, dropped when the socket closes. */
  waiters: Set<Waiter> | null = null;
  /** Corrs of this connection's pending REQUESTs: a PUBLISH or REQUEST may not reuse one. */
  requestCorrs: Set<number> | null = null;
  /**
   * The closing ERROR of a fatal frame read after frames still unanswered: sent after their last answer
   * (every PUBLISH/REQUEST read gets its answer first). Input is not read meanwhile (`ending`).
   */
  fatal: { corr: number; code: number; message: string } | null = null;
  // Session deadlines (performance.now() ms), checked by the gateway's sweep, never per frame.
  /** When the last complete frame arrived (the socket's accept time before the first). */
  lastFrameAt: number;
  /** When the unfinished frame now buffered started arriving; 0 = none. */
  partialSince = 0;
  /** Bytes of the unfinished frame counted in the gateway's process-wide partial-frame total. */
  partialBytes = 0;

  constructor(
    readonly id: number,
    readonly socket: Socket,
    readonly decoder: FrameDecoder,
    /** performance.now() at accept: the HELLO deadline starts here. */
    readonly acceptedAt: number,
  ) {
    this.lastFrameAt = acceptedAt;
  }
}
