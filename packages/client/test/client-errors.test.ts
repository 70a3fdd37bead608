import { ErrorCode } from '@fleet/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type FleetClient, FleetError } from '../src/index.js';
import { FakeGateway } from './peer.js';

let gw: FakeGateway;
let client: FleetClient | undefined;
afterEach(async () => {
  client?.destroy();
  client = undefined;
  await gw?.close();
});

describe('typed errors', () => {
  it('an ERROR answer rejects that publish with a FleetError carrying the code; others succeed', async () => {
    gw = await FakeGateway.start({
      onPublish: (_f, env) =>
        env.topic === 'busy' ? { code: ErrorCode.OVERLOADED, message: 'slow down' } : 'ack',
    });
    // Without retries (publishRetry: false) a transient code comes straight back to the caller.
    client = await connect({ host: '127.0.0.1', port: gw.port, publishRetry: false });
    const [bad, good] = await Promise.allSettled([client.publish('busy', 'x'), client.publish('fine', 'y')]);
    expect(bad.status).toBe('rejected');
    const err = (bad as PromiseRejectedResult).reason;
    expect(err).toBeInstanceOf(FleetError);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code: ErrorCode.OVERLOADED, codeName: 'overloaded', message: 'slow down' });
    expect(good.status).toBe('fulfilled');
  });

  it('invalid topics and envelopes are refused locally, before sending', async () => {
    gw = await FakeGateway.start();
    client = await connect({ host: '127.0.0.1', port: gw.port });
    await expect(client.publish('orders.*', 'x')).rejects.toMatchObject({ code: ErrorCode.INVALID_TOPIC });
    await expect(client.publish('a', 'x', { priority: 9 })).rejects.toMatchObject({
      code: ErrorCode.INVALID_ENVELOPE,
    });
    await expect(client.publish('a', 'x', { traceparent: 'zz' })).rejects.toMatchObject({
      code: ErrorCode.INVALID_ENVELOPE,
    });
    expect(gw.received).toHaveLength(0);
  });

  it("frames over the gateway's max_frame_bytes are refused locally with FRAME_TOO_LARGE", async () => {
    gw = await FakeGateway.start({ maxFrameBytes: 1000 });
    client = await connect({ host: '127.0.0.1', port: gw.port });
    await expect(client.publish('a', Buffer.alloc(2000))).rejects.toMatchObject({
      code: ErrorCode.FRAME_TOO_LARGE,
    });
    await expect(client.publish('a', 'small')).resolves.toMatchObject({ streamId: expect.any(String) });
  });

  it('auth: a missing token gives AUTH_REQUIRED, a wrong one AUTH_FAILED, without retrying', async () => {
    gw = await FakeGateway.start({ token: 's3cret' });
    const opts = {
      host: '127.0.0.1',
      port: gw.port,
      reconnect: { retries: 50, minDelayMs: 100, maxDelayMs: 100 },
    };
    await expect(connect(opts)).rejects.toMatchObject({
      code: ErrorCode.AUTH_REQUIRED,
      codeName: 'auth_required',
    });
    await expect(connect({ ...opts, token: 'nope' })).rejects.toMatchObject({ code: ErrorCode.AUTH_FAILED });
    expect(gw.conns).toHaveLength(2);
    client = await connect({ ...opts, token: 's3cret' });
    await expect(client.publish('a', 'ok')).resolves.toBeDefined();
  });

  it('close() drains what is in flight, then rejects later publishes', async () => {
    gw = await FakeGateway.start({ onPublish: () => 'hold' });
    client = await connect({ host: '127.0.0.1', port: gw.port });
    const p = client.publish('a', 'x');
    setTimeout(() => gw.last.ackHeld(), 30);
    await client.close();
    await expect(p).resolves.toBeDefined();
    await expect(client.publish('a', 'y')).rejects.toBeInstanceOf(FleetError);
  });
});
