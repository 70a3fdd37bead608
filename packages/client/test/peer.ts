import net from 'node:net';
import tls from 'node:tls';
import {
  decodeEnvelope,
  type Envelope,
  ErrorCode,
  encodeAck,
  encodeFrame,
  type Frame,
  FrameDecoder,
  FrameType,
  type InvalidFrame,
  type ProtocolError,
  type PublishFrame,
  type RequestFrame,
} from '@fleet/protocol';

/**
 * A tiny protocol peer for client tests, built from the real codec: it speaks the gateway's side of the wire
 * (HELLO/WELCOME, ACK, ERROR, RESPONSE, PONG) and records what it received. Not a gateway: no Redis.
 */
export interface PeerOptions {
  maxInFlight?: number;
  maxFrameBytes?: number;
  idleTimeoutMs?: number;
  token?: string;
  /** Serve TLS with this PEM certificate and key. */
  tls?: { cert: Buffer; key: Buffer };
  /** Decides each PUBLISH: 'ack' now (default), 'hold' (the test answers later), or an error to send. */
  onPublish?: (
    f: PublishFrame,
    env: Envelope,
    conn: PeerConn,
  ) => 'ack' | 'hold' | { code: number; message: string };
  onRequest?: (f: RequestFrame, env: Envelope, conn: PeerConn) => void;
}

export interface Received {
  conn: number;
  corr: number;
  ackLevel: 0 | 1;
  env: Envelope;
  frame: Buffer;
}

export class PeerConn {
  readonly decoder: FrameDecoder;
  /** Unanswered PUBLISH/REQUEST frames right now. */
  outstanding = 0;
  held: Array<{ corr: number; id: string; ackLevel: 0 | 1 }> = [];

  constructor(
    readonly n: number,
    readonly socket: net.Socket,
    maxFrameBytes: number,
  ) {
    this.decoder = new FrameDecoder({ maxFrameBytes });
  }

  send(buf: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(buf);
  }

  ack(corr: number, id: string, level: 0 | 1 = 0, streamId = `${Date.now()}-${corr}`): void {
    this.outstanding--;
    this.send(encodeAck(corr, level, id, streamId));
  }

  /** Answers held publishes in the given order (default: reverse). */
  ackHeld(order: 'reverse' | 'fifo' = 'reverse'): void {
    const list = order === 'reverse' ? this.held.reverse() : this.held;
    this.held = [];
    for (const h of list) this.ack(h.corr, h.id, h.ackLevel);
  }

  error(corr: number, code: number, message: string): void {
    if (corr !== 0) this.outstanding--;
    this.send(encodeFrame({ type: FrameType.ERROR, corr, code, message }));
  }
}

export class FakeGateway {
  readonly received: Received[] = [];
  readonly conns: PeerConn[] = [];
  /** Highest number of unanswered frames seen on one connection. */
  maxOutstanding = 0;
  private server!: net.Server;
  port = 0;

  constructor(readonly opts: PeerOptions = {}) {}

  static async start(opts: PeerOptions = {}): Promise<FakeGateway> {
    const g = new FakeGateway(opts);
    g.server = opts.tls
      ? tls.createServer({ cert: opts.tls.cert, key: opts.tls.key }, (s) => g.accept(s))
      : net.createServer((s) => g.accept(s));
    await new Promise<void>((r) => g.server.listen(0, '127.0.0.1', r));
    g.port = (g.server.address() as net.AddressInfo).port;
    return g;
  }

  get last(): PeerConn {
    return this.conns[this.conns.length - 1]!;
  }

  /** Drops every open connection (simulates a gateway crash). */
  dropAll(): void {
    for (const c of this.conns) c.socket.destroy();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private accept(socket: net.Socket): void {
    const conn = new PeerConn(this.conns.length, socket, this.opts.maxFrameBytes ?? 1 << 20);
    this.conns.push(conn);
    let hello = false;
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      let frames: Array<Frame | InvalidFrame>;
      try {
        frames = conn.decoder.push(chunk);
      } catch (e) {
        conn.error(0, (e as ProtocolError).code, (e as Error).message);
        socket.end();
        return;
      }
      for (const f of frames) {
        if (!hello) {
          if (f.type !== FrameType.HELLO) {
            conn.error(0, ErrorCode.HELLO_REQUIRED, 'HELLO first');
            socket.end();
            return;
          }
          if (this.opts.token && f.token !== this.opts.token) {
            conn.error(0, f.token ? ErrorCode.AUTH_FAILED : ErrorCode.AUTH_REQUIRED, 'bad token');
            socket.end();
            return;
          }
          hello = true;
          conn.send(
            encodeFrame({
              type: FrameType.WELCOME,
              corr: f.corr,
              gatewayId: 'fake-gw',
              maxFrameBytes: this.opts.maxFrameBytes ?? 1 << 20,
              maxInFlight: this.opts.maxInFlight ?? 10_000,
              idleTimeoutMs: this.opts.idleTimeoutMs ?? 0,
            }),
          );
          continue;
        }
        this.onFrame(conn, f);
      }
    });
  }

  private onFrame(conn: PeerConn, f: Frame | InvalidFrame): void {
    if (f.type === FrameType.PUBLISH || f.type === FrameType.REQUEST) {
      conn.outstanding++;
      this.maxOutstanding = Math.max(this.maxOutstanding, conn.outstanding);
      let env: Envelope;
      try {
        env = decodeEnvelope(f.envelope);
      } catch (e) {
        conn.error(f.corr, (e as ProtocolError).code, (e as Error).message);
        return;
      }
      if (f.type === FrameType.REQUEST) {
        this.opts.onRequest?.(f, env, conn);
        return;
      }
      this.received.push({
        conn: conn.n,
        corr: f.corr,
        ackLevel: f.ackLevel,
        env,
        frame: Buffer.from(encodeFrame(f)),
      });
      const verdict = this.opts.onPublish?.(f, env, conn) ?? 'ack';
      if (verdict === 'ack') conn.ack(f.corr, env.id, f.ackLevel);
      else if (verdict === 'hold') conn.held.push({ corr: f.corr, id: env.id, ackLevel: f.ackLevel });
      else conn.error(f.corr, verdict.code, verdict.message);
    } else if (f.type === FrameType.PING) {
      conn.send(encodeFrame({ type: FrameType.PONG, corr: f.corr }));
    } else if (f.type === 0) {
      conn.error(f.corr, f.code, f.message);
    }
  }
}
