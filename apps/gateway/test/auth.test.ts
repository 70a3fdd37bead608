import { ErrorCode, FrameType } from '@fleet/protocol';
import { describe, expect, it } from 'vitest';
import { envelope, gatewayConfig, RawClient, useClient, useGateway } from './helpers.js';

// With auth.tokens configured, HELLO must carry one of them.
describe('token auth', () => {
  const token = 'secret-token-0123456789';
  const cfg = gatewayConfig({ auth: { tokens: ['another-token-abcdefgh', token] } });
  const gw = useGateway(cfg);
  const bystander = useClient(gw, token);

  it('accepts a configured token', async () => {
    const c = await RawClient.open(gw.port, token);
    expect((await c.publish(envelope())).type).toBe(FrameType.ACK);
    await c.close();
  });

  it('missing token: AUTH_REQUIRED and close', async () => {
    const c = await RawClient.connect(gw.port);
    expect(await c.hello()).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.AUTH_REQUIRED });
    await c.closed;
    expect((await bystander().publish(envelope())).type).toBe(FrameType.ACK);
  });

  it('wrong token: AUTH_FAILED and close', async () => {
    for (const wrong of ['secret-token-0123456788', 'short', `${token}x`]) {
      const c = await RawClient.connect(gw.port);
      const err = await c.hello(wrong);
      expect(err).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.AUTH_FAILED });
      if (err.type === FrameType.ERROR) expect(err.message).not.toContain(wrong);
      await c.closed;
    }
    expect((await bystander().publish(envelope())).type).toBe(FrameType.ACK);
  });
});
