import { ErrorCode, FrameType } from '@fleet/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/index.js';
import { cleanupRedisPrefix, envelope, gatewayConfig, RawClient, sleep, withGateway } from './helpers.js';

// A connection silent for network.timeout_ms gets ERROR TIMEOUT (corr 0) and is closed; traffic keeps it open.
describe('idle timeout', () => {
  const cfg = gatewayConfig({ network: { timeout_ms: 300 } });
  let gw: Gateway;

  beforeAll(async () => {
    gw = await withGateway(cfg);
  });
  afterAll(async () => {
    await gw.close();
    await cleanupRedisPrefix(cfg.redis.key_prefix);
  });

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
