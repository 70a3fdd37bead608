import { ErrorCode, FrameType } from '@fleet/protocol';
import { type PrivateRedis, startPrivateRedis } from '@fleet/services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelope, gatewayConfig, RawClient, useGateway, waitUntil } from './helpers.js';

// A durable PUBLISH waits for the persister's commit notice, which travels on Redis pub/sub: a notice
// published while the gateway's subscriber was reconnecting is lost for good. So when the subscriber is
// back, the durable PUBLISHes that were waiting are answered UNAVAILABLE at once (the client resends with
// the same id) instead of waiting out requests.max_timeout_ms (the e2e crash test spent minutes there).
describe('durable publishes across a Redis reconnect', () => {
  let redis: PrivateRedis;

  beforeAll(async () => {
    redis = await startPrivateRedis({ aof: true });
  }, 30_000);
  afterAll(async () => {
    await redis?.dispose();
  });
  // No persister runs: the durable PUBLISH can only wait. The deadline is far beyond the test's.
  const gw = useGateway(() => gatewayConfig({ requests: { max_timeout_ms: 300_000 } }, redis.url));

  it('answers a waiting durable PUBLISH UNAVAILABLE once the subscriber is back', async () => {
    const c = await RawClient.open(gw.port);
    const answer = c.publish(envelope({ id: 'durable-across-restart' }), { durable: true });
    await waitUntil(() => gw.stats().pendingDurable === 1, 10_000);
    await redis.restart();
    // Mutation checked: without the gateway's resubscribe handler (failDurables), no answer comes before
    // the 300 s deadline and this times out.
    const res = await answer;
    expect(res).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.UNAVAILABLE });
    expect(gw.stats().pendingDurable).toBe(0);
    // The connection stays usable.
    expect((await c.publish(envelope())).type).toBe(FrameType.ACK);
    await c.close();
  }, 40_000);
});
