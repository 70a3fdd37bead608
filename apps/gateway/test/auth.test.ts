import { ErrorCode, FrameType } from '@fleet/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/index.js';
import { cleanupRedisPrefix, envelope, gatewayConfig, RawClient, withGateway } from './helpers.js';

// With auth.tokens configured, HELLO must carry one of them.
describe('token auth', () => {
  const token = 'secret-token-0123456789';
  const cfg = gatewayConfig({ auth: { tokens: ['another-token-abcdefgh', token] } });
  let gw: Gateway;
  let bystander: RawClient;

  beforeAll(async () => {
    gw = await withGateway(cfg);
    bystander = await RawClient.open(gw.port, token);
  });
  afterAll(async () => {
    await bystander.close();
    await gw.close();
    await cleanupRedisPrefix(cfg.redis.key_prefix);
  });

  it('accepts a configured token', async () => {
    const c = await RawClient.open(gw.port, token);
    expect((await c.publish(envelope())).type).toBe(FrameType.ACK);
    await c.close();
  });

  it('missing token: AUTH_REQUIRED and close', async () => {
    const c = await RawClient.connect(gw.port);
    expect(await c.hello()).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.AUTH_REQUIRED });
    await c.closed;
    expect((await bystander.publish(envelope())).type).toBe(FrameType.ACK);
  });

  it('wrong token: AUTH_FAILED and close', async () => {
    for (const wrong of ['secret-token-0123456788', 'short', `${token}x`]) {
      const c = await RawClient.connect(gw.port);
      const err = await c.hello(wrong);
      expect(err).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.AUTH_FAILED });
      if (err.type === FrameType.ERROR) expect(err.message).not.toContain(wrong);
      await c.closed;
    }
    expect((await bystander.publish(envelope())).type).toBe(FrameType.ACK);
  });
});
