import { ErrorCode, encodeFrame, FrameType } from '@fleet/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type FleetClient, FleetError } from '../src/index.js';
import { FakeGateway } from './peer.js';

let gw: FakeGateway;
let client: FleetClient;
afterEach(async () => {
  client?.destroy();
  await gw?.close();
});

const fast = { retries: 5, minDelayMs: 10, maxDelayMs: 50 };

describe('client reconnect', () => {
  it('re-sends every un-ACKed publish with the same ids and bytes, then continues', async () => {
    gw = await FakeGateway.start({
      onPublish: (_f, _env, conn) => {
        if (conn.n > 0) return 'ack';
        // First connection: ACK 10, hold the next 20, then crash.
        const seen = gw.received.filter((r) => r.conn === 0).length;
        if (seen <= 10) return 'ack';
        if (seen === 30) setImmediate(() => gw.dropAll());
        return 'hold';
      },
    });
    client = await connect({ host: '127.0.0.1', port: gw.port, window: 30, reconnect: fast });
    const reconnected = new Promise((r) => client.once('reconnect', r));
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => client.publish('orders.x', String(i))),
    );
    await reconnected;

    const first = gw.received.filter((r) => r.conn === 0);
    const second = gw.received.filter((r) => r.conn === 1);
    expect(first).toHaveLength(30);
    const unacked = first.slice(10);
    // The 20 unacknowledged frames come first on the new connection, byte for byte.
    expect(second.slice(0, 20).map((r) => r.frame.toString('hex'))).toEqual(
      unacked.map((r) => r.frame.toString('hex')),
    );
    expect(second).toHaveLength(90);
    const resolvedIds = results.map((r) => r.id);
    expect(new Set(resolvedIds).size).toBe(100);
    expect(new Set([...first.slice(0, 10), ...second].map((r) => r.env.id))).toEqual(new Set(resolvedIds));
  });

  it('a publish answered SHUTTING_DOWN is re-sent with the same id on the next connection', async () => {
    gw = await FakeGateway.start({
      onPublish: (f, _env, conn) => {
        if (conn.n > 0) return 'ack';
        setImmediate(() => {
          conn.send(
            encodeFrame({
              type: FrameType.ERROR,
              corr: f.corr,
              code: ErrorCode.SHUTTING_DOWN,
              message: 'bye',
            }),
          );
          conn.socket.end();
        });
        return 'hold';
      },
    });
    client = await connect({ host: '127.0.0.1', port: gw.port, reconnect: fast });
    const r = await client.publish('t', 'x');
    expect(gw.received.map((x) => [x.conn, x.env.id])).toEqual([
      [0, r.id],
      [1, r.id],
    ]);
  });

  it('publishes made while disconnected wait and go out after the reconnect', async () => {
    gw = await FakeGateway.start();
    client = await connect({ host: '127.0.0.1', port: gw.port, reconnect: fast });
    const disconnected = new Promise((r) => client.once('disconnect', r));
    gw.dropAll();
    await disconnected;
    const r = await client.publish('t', 'after');
    expect(r.id).toBe(gw.received[0]!.env.id);
    expect(gw.received[0]!.conn).toBe(1);
  });

  it('gives up after the retries and rejects what is pending with UNAVAILABLE', async () => {
    gw = await FakeGateway.start({ onPublish: () => 'hold' });
    client = await connect({
      host: '127.0.0.1',
      port: gw.port,
      reconnect: { retries: 2, minDelayMs: 5, maxDelayMs: 10 },
    });
    const p = client.publish('t', 'x');
    await new Promise((r) => setTimeout(r, 20));
    const closed = new Promise((r) => client.once('closed', r));
    await gw.close();
    const err = await p.catch((e) => e);
    expect(err).toBeInstanceOf(FleetError);
    expect(err.code).toBe(ErrorCode.UNAVAILABLE);
    await closed;
    await expect(client.publish('t', 'y')).rejects.toMatchObject({ code: ErrorCode.UNAVAILABLE });
  });

  it('first connect retries with backoff, then fails with UNAVAILABLE', async () => {
    gw = await FakeGateway.start();
    const port = gw.port;
    await gw.close();
    const t0 = Date.now();
    const err = await connect({
      host: '127.0.0.1',
      port,
      reconnect: { retries: 3, minDelayMs: 20, maxDelayMs: 40 },
    }).catch((e) => e);
    expect(err).toMatchObject({ code: ErrorCode.UNAVAILABLE, codeName: 'unavailable' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(30); // slept between attempts
  });
});
