import { ErrorCode, encodeFrame, FrameType } from '@fleet/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type FleetClient } from '../src/index.js';
import { FakeGateway } from './peer.js';

let gw: FakeGateway;
let client: FleetClient;
afterEach(async () => {
  client?.destroy();
  await gw?.close();
});

const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('request/reply', () => {
  it('resolves with the RESPONSE payload, json() and traceparent', async () => {
    let seenTimeout = -1;
    gw = await FakeGateway.start({
      onRequest: (f, env, conn) => {
        seenTimeout = f.timeoutMs;
        conn.outstanding--;
        const body = Buffer.from(
          JSON.stringify({ echo: Buffer.from(env.payload).toString(), type: env.type }),
        );
        conn.send(
          encodeFrame({ type: FrameType.RESPONSE, corr: f.corr, status: 0, traceparent: tp, payload: body }),
        );
      },
    });
    client = await connect({ host: '127.0.0.1', port: gw.port });
    const res = await client.request('math.add', 'hi', { timeoutMs: 1234 });
    expect(res.json()).toEqual({ echo: 'hi', type: 'query' });
    expect(res.traceparent).toBe(tp);
    expect(seenTimeout).toBe(1234);
  });

  it('a non-zero status rejects with that code', async () => {
    gw = await FakeGateway.start({
      onRequest: (f, _env, conn) =>
        conn.send(
          encodeFrame({
            type: FrameType.RESPONSE,
            corr: f.corr,
            status: ErrorCode.HANDLER_ERROR,
            error: 'boom',
            payload: Buffer.alloc(0),
          }),
        ),
    });
    client = await connect({ host: '127.0.0.1', port: gw.port });
    await expect(client.request('x', {})).rejects.toMatchObject({
      code: ErrorCode.HANDLER_ERROR,
      codeName: 'handler_error',
      message: 'boom',
    });
  });

  it('times out with TIMEOUT when no answer comes; a late answer is ignored', async () => {
    let late: (() => void) | undefined;
    gw = await FakeGateway.start({
      onRequest: (f, _env, conn) => {
        late = () =>
          conn.send(
            encodeFrame({ type: FrameType.RESPONSE, corr: f.corr, status: 0, payload: Buffer.from('late') }),
          );
      },
    });
    client = await connect({ host: '127.0.0.1', port: gw.port });
    const t0 = Date.now();
    await expect(client.request('slow', 'x', { timeoutMs: 150 })).rejects.toMatchObject({
      code: ErrorCode.TIMEOUT,
    });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    late?.();
    // The connection still works after the late answer.
    await expect(client.publish('a', 'b')).resolves.toBeDefined();
  });

  it("a gateway ERROR TIMEOUT for the request's corr rejects it", async () => {
    gw = await FakeGateway.start({
      onRequest: (f, _env, conn) =>
        setTimeout(() => conn.error(f.corr, ErrorCode.TIMEOUT, 'deadline passed'), 20),
    });
    client = await connect({ host: '127.0.0.1', port: gw.port });
    await expect(client.request('slow', 'x', { timeoutMs: 5000 })).rejects.toMatchObject({
      code: ErrorCode.TIMEOUT,
      message: 'deadline passed',
    });
  });
});
