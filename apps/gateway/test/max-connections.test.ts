import { ErrorCode, FrameType } from '@fleet/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { envelope, gatewayConfig, RawClient, useGateway, waitUntil } from './helpers.js';

// Past network.max_connections a new connection gets ERROR OVERLOADED and is closed; others keep working.
describe('max connections', () => {
  const cfg = gatewayConfig({ network: { max_connections: 3 } });
  const gw = useGateway(cfg);
  const clients: RawClient[] = [];

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });

  it('refuses the connection over the limit with OVERLOADED', async () => {
    for (let i = 0; i < 3; i++) clients.push(await RawClient.open(gw.port));
    const extra = await RawClient.connect(gw.port);
    expect(await extra.next((f) => f.type === FrameType.ERROR)).toMatchObject({
      code: ErrorCode.OVERLOADED,
      corr: 0,
    });
    await extra.closed;
    for (const c of clients) expect((await c.publish(envelope())).type).toBe(FrameType.ACK);
    expect(gw.stats().connections).toBe(3);
  });

  it('accepts again once a connection closes', async () => {
    await clients.pop()!.close();
    expect(await waitUntil(() => gw.stats().connections === 2)).toBe(true);
    const again = await RawClient.open(gw.port);
    clients.push(again);
    expect((await again.publish(envelope())).type).toBe(FrameType.ACK);
  });
});
