import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { type FleetConfig, messagingSystemSchema } from '@fleet/config';
import {
  type Envelope,
  encodeEnvelope,
  encodeFrame,
  encodePublish,
  encodeRequest,
  type Frame,
  FrameDecoder,
  FrameType,
  type InvalidFrame,
} from '@fleet/protocol';
import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { type DeepPartial, deepMerge } from '../../../test/helpers/config.js';
import { cleanupRedisPrefix, redisUrl, uniquePrefix } from '../../../test/helpers/services.js';
import { type Gateway, type GatewayOptions, startGateway } from '../src/index.js';

export { cleanupRedisPrefix, redisUrl, uniquePrefix };

/** A validated config for a gateway under test: port 0, this run's Redis under a fresh prefix, quiet logs. */
export function gatewayConfig(overrides: DeepPartial<FleetConfig> = {}, redis = redisUrl()): FleetConfig {
  const base = {
    network: { host: '127.0.0.1', port: 0 },
    redis: { url: redis, key_prefix: uniquePrefix('gw') },
    logging: { level: 'silent' },
    ops: { gateway_metrics_port: 0 },
  };
  return messagingSystemSchema.parse(deepMerge(base, overrides as Record<string, unknown>));
}

export const silentLogger = pino({ level: 'silent' });

export async function withGateway(cfg: FleetConfig, opts: GatewayOptions = {}): Promise<Gateway> {
  return startGateway(cfg, { logger: silentLogger, ...opts });
}

/**
 * One gateway for the enclosing describe: started in beforeAll, closed in afterAll and its Redis keys
 * deleted. Returns a handle usable inside tests and later hooks. Pass `cfg` as a function when it is only
 * known in an earlier beforeAll (a private Redis). Hooks registered after this call run after the start
 * and, in vitest's default stack order, their afterAll before the close.
 */
export function useGateway(cfg: FleetConfig | (() => FleetConfig), opts: GatewayOptions = {}): Gateway {
  let gw: Gateway | undefined;
  let config: FleetConfig | undefined;
  const started = (): Gateway => {
    if (!gw) throw new Error('useGateway: the gateway starts in beforeAll; use it inside tests and hooks');
    return gw;
  };
  beforeAll(async () => {
    config = typeof cfg === 'function' ? cfg() : cfg;
    gw = await withGateway(config, opts);
  });
  afterAll(async () => {
    await gw?.close();
    if (config) await cleanupRedisPrefix(config.redis.key_prefix, config.redis.url);
  });
  return {
    get port() {
      return started().port;
    },
    get gatewayId() {
      return started().gatewayId;
    },
    stats: () => started().stats(),
    reconfigure: (next) => started().reconfigure(next),
    close: () => started().close(),
  };
}

/**
 * A client that has completed HELLO with the gateway of `useGateway`, open for the enclosing describe
 * (opened in beforeAll, closed in afterAll). Call the returned function inside tests.
 */
export function useClient(gw: Gateway, token?: string): () => RawClient {
  let client: RawClient | undefined;
  beforeAll(async () => {
    client = await RawClient.open(gw.port, token);
  });
  afterAll(async () => {
    await client?.close();
  });
  return () => {
    if (!client) throw new Error('useClient: the client opens in beforeAll; use it inside tests and hooks');
    return client;
  };
}

export function envelope(over: Partial<Envelope> = {}): Envelope {
  return {
    id: `m-${Math.random().toString(36).slice(2)}`,
    topic: 'orders.created',
    type: 'event',
    priority: 2,
    timestamp: Date.now(),
    headers: {},
    payload: Buffer.from('hello'),
    ...over,
  };
}

type AnyFrame = Frame | InvalidFrame;

/** A bare protocol client over the real codec: send raw bytes or frames, await answers by corr. */
export class RawClient {
  readonly frames: AnyFrame[] = [];
  private readonly decoder = new FrameDecoder({ maxFrameBytes: 64 * 1024 * 1024 });
  private readonly byCorr = new Map<number, (f: AnyFrame) => void>();
  private readonly anyWaiters: Array<{ pred: (f: AnyFrame) => boolean; resolve: (f: AnyFrame) => void }> = [];
  readonly closed: Promise<void>;
  isClosed = false;
  private nextCorr = 1;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.decoder.push(chunk)) {
        this.frames.push(f);
        const w = this.byCorr.get(f.corr);
        if (w && f.corr !== 0) {
          this.byCorr.delete(f.corr);
          w(f);
        }
        for (let i = 0; i < this.anyWaiters.length; i++) {
          const a = this.anyWaiters[i]!;
          if (a.pred(f)) {
            this.anyWaiters.splice(i--, 1);
            a.resolve(f);
          }
        }
      }
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.isClosed = true;
        resolve();
      }),
    );
  }

  static connect(port: number, tls?: { ca: Buffer; servername?: string }): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = tls
        ? tlsConnect({ port, host: '127.0.0.1', ca: tls.ca, servername: tls.servername ?? 'localhost' }, () =>
            resolve(new RawClient(socket)),
          )
        : netConnect({ port, host: '127.0.0.1' }, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Connects and completes HELLO; resolves with the client after WELCOME. */
  static async open(port: number, token?: string): Promise<RawClient> {
    const c = await RawClient.connect(port);
    const w = await c.hello(token);
    if (w.type !== FrameType.WELCOME) throw new Error(`expected WELCOME, got ${JSON.stringify(w)}`);
    return c;
  }

  corr(): number {
    return this.nextCorr++;
  }

  write(buf: Buffer): void {
    this.socket.write(buf);
  }

  /** Resolves with the answer carrying `corr`. */
  answer(corr: number): Promise<AnyFrame> {
    return new Promise((resolve) => this.byCorr.set(corr, resolve));
  }

  /** Resolves with the next frame matching `pred` (already received ones count). */
  next(pred: (f: AnyFrame) => boolean): Promise<AnyFrame> {
    const seen = this.frames.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.anyWaiters.push({ pred, resolve }));
  }

  hello(token?: string): Promise<AnyFrame> {
    const corr = this.corr();
    const answer = this.answer(corr);
    const frame: Frame = { type: FrameType.HELLO, corr, clientName: 'test' };
    if (token) frame.token = token;
    this.write(encodeFrame(frame));
    return Promise.race([answer, this.next((f) => f.type === FrameType.ERROR && f.corr === corr)]);
  }

  publish(
    env: Envelope | Buffer,
    opts: { durable?: boolean; partitionKey?: string } = {},
  ): Promise<AnyFrame> {
    const corr = this.corr();
    const answer = this.answer(corr);
    const bytes = Buffer.isBuffer(env) ? env : encodeEnvelope(env);
    this.write(encodePublish(corr, opts.durable ? 1 : 0, opts.partitionKey, bytes));
    return answer;
  }

  request(env: Envelope, timeoutMs = 0): Promise<AnyFrame> {
    const corr = this.corr();
    const answer = this.answer(corr);
    this.write(encodeRequest(corr, timeoutMs, undefined, encodeEnvelope(env)));
    return answer;
  }

  close(): Promise<void> {
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 500).unref();
    return this.closed;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true or `ms` passes. */
export async function waitUntil(check: () => boolean | Promise<boolean>, ms = 5_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(20);
  }
  return check();
}
