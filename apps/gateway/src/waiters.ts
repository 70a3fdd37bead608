import {
  AckLevel,
  decodeDurableIds,
  decodeReply,
  ErrorCode,
  encodeAck,
  encodeFrame,
  type FleetKeys,
  FrameType,
  type ResponseFrame,
} from '@fleet/protocol';
import { type FleetRedis, isCluster, onMessage, publish, subscribe } from '@fleet/redis';
import type { Logger } from '@fleet/tracing';
import type { Cluster } from 'ioredis';
import { type Connection, type Waiter, WaitKind } from './connection.js';
import type { GatewayInstruments } from './instruments.js';
import type { Output } from './output.js';
import { TimerWheel } from './timer-wheel.js';

/** Granularity of REQUEST and durable-ACK deadlines (documented in docs/protocol.md section 8). */
export const TIMER_TICK_MS = 50;
/** RESPONSE status of a handler that succeeded (docs/protocol.md, RESPONSE: "0 = ok"). */
const RESPONSE_OK = 0;
const EMPTY = Buffer.alloc(0);
/** Cluster: while the pub/sub subscription is lost, how often the slot map is refreshed and a probe sent. */
const RESUBSCRIBE_PROBE_MS = 250;
const DURABLE_NOTICE_LOST =
  'redis reconnected: the durable commit notice may have been missed; resend with the same id';

/**
 * Frames that wait on something other than their XADD: REQUESTs (for the handler's reply) and `durable`
 * PUBLISHes (for the persister's commit notice). Both arrive on this gateway's own pub/sub channels, which
 * this class subscribes; both deadlines share one timer wheel (no timer per request).
 */
export class Waiters {
  private readonly requests = new Map<string, Waiter>();
  private readonly durables = new Map<string, Waiter[]>();
  private readonly wheel: TimerWheel<Waiter>;
  private readonly replyChannel: string;
  private readonly durableChannel: string;
  /** Cluster only, while the subscription is lost: the message this gateway SPUBLISHes to itself. */
  private probe: string | null = null;
  private onProbe: () => void = () => {};

  constructor(
    keys: FleetKeys,
    gatewayId: string,
    private readonly sub: FleetRedis,
    private readonly output: Output,
    private readonly instruments: GatewayInstruments,
    private readonly log: Logger,
  ) {
    this.replyChannel = keys.replyChannel(gatewayId);
    this.durableChannel = keys.durableChannel(gatewayId);
    this.wheel = new TimerWheel<Waiter>(TIMER_TICK_MS, (w) => this.onExpired(w));
  }

  get pendingRequests(): number {
    return this.requests.size;
  }

  get pendingDurable(): number {
    return this.durables.size;
  }

  /** Requests and durable publishes with a deadline still running. */
  get size(): number {
    return this.wheel.size;
  }

  // ------------------------------------------------------------------ subscription

  /**
   * Listens on the subscriber connection (before it connects, so no reconnect is missed). `closing` says
   * whether the gateway is shutting down (no resubscribe then).
   *
   * Pub/sub is fire-and-forget: a durable commit notice published while the subscriber was away is gone,
   * and its PUBLISH would wait out requests.max_timeout_ms. Once subscribed again, the durable PUBLISHes
   * that were waiting are answered UNAVAILABLE at once; the client resends with the same id, and the
   * persister notifies again for an id it already stored.
   *
   * Standalone: the connection's `close` marks the loss, its `ready` resubscribes (SUBSCRIBE), then the
   * waiting durables are failed.
   * Cluster (ioredis 6.1, shardedSubscribers): the channels live on one sharded subscriber connection to
   * the master owning the gateway tag's slot. When it ends the Cluster emits `-node` with that node's key
   * as second argument (the node pool's own `-node` has none). ioredis then resubscribes by itself once
   * its slot map names a reachable owner, but its `subscribersReady` also fires after a reset whose
   * subscriber failed to connect, and its slot refreshes back off up to 2 s. So while the subscription is
   * lost the gateway refreshes the slot map every RESUBSCRIBE_PROBE_MS and SPUBLISHes a probe on its own
   * reply channel: hearing it proves the subscription is back (then the waiting durables are failed).
   */
  listen(closing: () => boolean): void {
    onMessage(this.sub, (channel: string, message: string) => this.onPubSub(channel, message));
    if (isCluster(this.sub)) {
      this.listenCluster(this.sub, closing);
      return;
    }
    const sub = this.sub;
    let subLost = false;
    sub.on('close', () => {
      subLost = true;
    });
    sub.on('ready', () => {
      if (!subLost || closing()) return;
      subLost = false;
      const waiting = this.waitingDurables();
      subscribe(sub, this.replyChannel, this.durableChannel)
        .then(() => this.failDurables(waiting))
        .catch((err: unknown) => this.log.warn({ err }, 'resubscribe failed'));
    });
  }

  private listenCluster(sub: Cluster, closing: () => boolean): void {
    let lostAt: Waiter[] | null = null;
    let timer: NodeJS.Timeout | null = null;
    const recovered = () => {
      if (timer) clearInterval(timer);
      timer = null;
      this.probe = null;
      const waiting = [...new Set([...(lostAt ?? []), ...this.waitingDurables()])];
      lostAt = null;
      this.log.info({}, 'redis pub/sub subscription back');
      this.failDurables(waiting);
    };
    sub.on('-node', (_redis: unknown, nodeKey?: string) => {
      if (nodeKey === undefined || lostAt !== null || closing()) return;
      lostAt = this.waitingDurables();
      this.probe = `probe:${Date.now()}:${Math.random()}`;
      this.onProbe = recovered;
      timer = setInterval(() => {
        if (closing()) {
          if (timer) clearInterval(timer);
          timer = null;
          return;
        }
        sub.refreshSlotsCache();
        // Not while the Cluster itself is down: its offline queue would pile probes up.
        if (this.probe && sub.status === 'ready') publish(sub, this.replyChannel, this.probe).catch(() => {});
      }, RESUBSCRIBE_PROBE_MS);
      timer.unref();
    });
  }

  private waitingDurables(): Waiter[] {
    return [...this.durables.values()].flat().filter((w) => !w.committed);
  }

  /** Subscribes the reply and durable channels (before the gateway serves). */
  async subscribe(): Promise<void> {
    const sub = this.sub;
    if (isCluster(sub) && sub.status !== 'ready') {
      // A Cluster queues the SSUBSCRIBE until it has its slot map (offline queue): do not hold up the start.
      subscribe(sub, this.replyChannel, this.durableChannel).catch((e: unknown) =>
        this.log.error({ err: e }, 'subscribe failed'),
      );
      return;
    }
    try {
      await subscribe(sub, this.replyChannel, this.durableChannel);
    } catch (err) {
      // Not connected yet: autoResubscribe does not cover a SUBSCRIBE that never ran, so retry on ready
      // (a Cluster: once its subscribers are up again).
      this.log.warn({ err }, 'subscribe failed; retrying when redis is ready');
      const retry = () => {
        subscribe(sub, this.replyChannel, this.durableChannel).catch((e: unknown) =>
          this.log.error({ err: e }, 'subscribe failed'),
        );
      };
      if (isCluster(sub)) sub.once('subscribersReady', retry);
      else sub.once('ready', retry);
    }
  }

  private onPubSub(channel: string, message: string): void {
    if (channel === this.replyChannel) {
      if (this.probe !== null && message === this.probe) {
        this.onProbe();
        return;
      }
      const r = decodeReply(message);
      if (!r) return;
      const w = this.requests.get(r.correlationId);
      if (!w) return; // expired or its connection closed
      this.forget(w);
      const frame: ResponseFrame = {
        type: FrameType.RESPONSE,
        corr: w.corr,
        status: r.ok ? RESPONSE_OK : ErrorCode.HANDLER_ERROR,
        payload: r.payload
          ? Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength)
          : EMPTY,
      };
      if (r.error) frame.error = r.error;
      if (r.traceparent) frame.traceparent = r.traceparent;
      this.instruments.framesOut(FrameType.RESPONSE, 1);
      this.output.answer(w.conn, encodeFrame(frame));
    } else if (channel === this.durableChannel) {
      for (const id of decodeDurableIds(message)) {
        const list = this.durables.get(id);
        if (!list) continue;
        for (const w of [...list]) {
          if (w.streamId !== null) this.ackDurable(w, id);
          else w.committed = true;
        }
      }
    }
  }

  // ------------------------------------------------------------------ waiting frames

  /** A REQUEST waiting for the reply to `correlationId`. */
  addRequest(conn: Connection, corr: number, correlationId: string, timeoutMs: number): Waiter {
    const w = this.add(conn, corr, WaitKind.REQUEST, correlationId, timeoutMs);
    if (!conn.requestCorrs) conn.requestCorrs = new Set();
    conn.requestCorrs.add(corr);
    this.requests.set(correlationId, w);
    return w;
  }

  /** A durable PUBLISH of `messageId` waiting for its XADD and the persister's commit notice. */
  addDurable(conn: Connection, corr: number, messageId: string, timeoutMs: number): Waiter {
    const w = this.add(conn, corr, WaitKind.DURABLE, messageId, timeoutMs);
    let list = this.durables.get(messageId);
    if (!list) {
      list = [];
      this.durables.set(messageId, list);
    }
    list.push(w);
    return w;
  }

  private add(conn: Connection, corr: number, kind: Waiter['kind'], key: string, timeoutMs: number): Waiter {
    const w: Waiter = {
      conn,
      corr,
      kind,
      key,
      streamId: null,
      committed: false,
      done: false,
      since: performance.now(),
    };
    this.wheel.add(w, Date.now() + timeoutMs);
    if (!conn.waiters) conn.waiters = new Set();
    conn.waiters.add(w);
    return w;
  }

  /** The waiter's message is in the stream as `streamId`: a durable one is ACKed if its commit came first. */
  appended(w: Waiter, streamId: string, messageId: string): void {
    if (w.kind !== WaitKind.DURABLE || w.done) return; // requests wait for their reply
    w.streamId = streamId;
    if (w.committed) this.ackDurable(w, messageId);
  }

  /** Removes a waiter from every index (answered, expired, failed or its connection closed). */
  forget(w: Waiter): void {
    w.done = true;
    this.wheel.delete(w);
    w.conn.waiters?.delete(w);
    if (w.kind === WaitKind.REQUEST) {
      if (this.requests.get(w.key) === w) this.requests.delete(w.key);
      w.conn.requestCorrs?.delete(w.corr);
    } else {
      const list = this.durables.get(w.key);
      if (list) {
        const i = list.indexOf(w);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0) this.durables.delete(w.key);
      }
    }
  }

  /** The connection closed: nothing it waited on will be answered. */
  forgetConnection(conn: Connection): void {
    if (!conn.waiters) return;
    for (const w of conn.waiters) this.forget(w);
    conn.waiters = null;
  }

  /** Answers every waiting frame with `code` (shutdown after its grace). */
  failAll(code: number, message: string): void {
    for (const w of this.wheel.drain()) {
      this.forget(w);
      this.output.answerError(w.conn, w.corr, code, message);
    }
  }

  private ackDurable(w: Waiter, messageId: string): void {
    this.forget(w);
    this.output.acked++;
    this.instruments.durableAckLatency(performance.now() - w.since);
    this.instruments.framesOut(FrameType.ACK, 1);
    this.output.answer(w.conn, encodeAck(w.corr, AckLevel.DURABLE, messageId, w.streamId as string));
  }

  /** Durable PUBLISHes whose commit notice may have been lost (the subscriber reconnected): resend. */
  private failDurables(waiters: Waiter[]): void {
    let failed = 0;
    for (const w of waiters) {
      if (w.done) continue;
      this.forget(w);
      this.output.answerError(w.conn, w.corr, ErrorCode.UNAVAILABLE, DURABLE_NOTICE_LOST);
      failed++;
    }
    if (failed > 0)
      this.log.warn({ failed }, 'redis reconnected: waiting durable publishes answered unavailable');
  }

  private onExpired(w: Waiter): void {
    this.forget(w);
    // A request whose XADD is still outstanding is answered here; the later XADD reply then finds no waiter.
    this.output.answerError(
      w.conn,
      w.corr,
      ErrorCode.TIMEOUT,
      w.kind === WaitKind.REQUEST
        ? 'no response before the deadline'
        : 'no durable commit before the deadline',
    );
  }
}
