import { ErrorCode, encodeEnvelope, encodePublish, FrameType } from '@fleet/protocol';
import { describe, expect, it } from 'vitest';
import { envelope, gatewayConfig, RawClient, sleep, useGateway } from './helpers.js';

// A connection silent for network.timeout_ms gets ERROR TIMEOUT (corr 0) and is closed; traffic keeps it open.
describe('idle timeout', () => {
  const cfg = gatewayConfig({ network: { timeout_ms: 300 } });
  const gw = useGateway(cfg);

  it('announces the timeout in WELCOME', async () => {
    const c = await RawClient.connect(gw.port);
    expect(await c.hello()).toMatchObject({ type: FrameType.WELCOME, idleTimeoutMs: 300 });
    await c.close();
  });

  it('closes an idle connection (also one that never sent HELLO)', async () => {
    const idle = await RawClient.open(gw.port);
    const silent = await RawClient.connect(gw.port);
    const started = Date.now();
    expect(await idle.next((f) => f.type === FrameType.ERROR)).toMatchObject({
      code: ErrorCode.TIMEOUT,
      corr: 0,
    });
    await Promise.all([idle.closed, silent.closed]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  // Mutation tried: conn.lastFrameAt set on every chunk instead of on complete frames (the old
  // socket.setTimeout behaviour): the trickling client is never closed: fails.
  it('bytes of an unfinished frame do not keep a connection open', async () => {
    const c = await RawClient.open(gw.port);
    const frame = encodePublish(
      c.corr(),
      0,
      undefined,
      encodeEnvelope(envelope({ payload: Buffer.alloc(1000) })),
    );
    let i = 0;
    const timer = setInterval(() => {
      if (c.isClosed || i >= frame.length - 1) clearInterval(timer);
      else c.write(frame.subarray(i, ++i));
    }, 50);
    const closed = await Promise.race([c.closed.then(() => true), sleep(10_000).then(() => false)]);
    clearInterval(timer);
    expect(closed).toBe(true);
    expect(c.frames.at(-1)).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.TIMEOUT, corr: 0 });
  });

  it('keeps a busy connection open', async () => {
    const busy = await RawClient.open(gw.port);
    for (let i = 0; i < 8; i++) {
      expect((await busy.publish(envelope())).type).toBe(FrameType.ACK);
      await sleep(100);
    }
    expect(busy.isClosed).toBe(false);
    await busy.close();
  });
});
