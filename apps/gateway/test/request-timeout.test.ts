import { ErrorCode, encodeReply, FleetKeys, FrameType } from '@fleet/protocol';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/index.js';
import {
  cleanupRedisPrefix,
  envelope,
  gatewayConfig,
  RawClient,
  redisUrl,
  sleep,
  withGateway,
} from './helpers.js';

// Without a reply, a REQUEST gets ERROR TIMEOUT at its deadline and the gateway forgets it.
describe('request timeout', () => {
  const cfg = gatewayConfig({ requests: { default_timeout_ms: 300, max_timeout_ms: 600 } });
  let gw: Gateway;
  let client: RawClient;

  beforeAll(async () => {
    gw = await withGateway(cfg);
    client = await RawClient.open(gw.port);
  });
  afterAll(async () => {
    await client.close();
    await gw.close();
    await cleanupRedisPrefix(cfg.redis.key_prefix);
  });

  it('uses the requested deadline', async () => {
    const started = Date.now();
    const res = await client.request(envelope(), 150);
    expect(res).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.TIMEOUT });
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(140);
    expect(took).toBeLessThan(290);
  });

  it('uses requests.default_timeout_ms when none is given and caps at max_timeout_ms', async () => {
    let started = Date.now();
    expect(await client.request(envelope(), 0)).toMatchObject({ code: ErrorCode.TIMEOUT });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    started = Date.now();
    expect(await client.request(envelope(), 60_000)).toMatchObject({ code: ErrorCode.TIMEOUT });
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('forgets expired requests: no leak, late replies are ignored', async () => {
    const answers = await Promise.all(Array.from({ length: 1_000 }, () => client.request(envelope(), 100)));
    expect(answers.every((a) => a.type === FrameType.ERROR && a.code === ErrorCode.TIMEOUT)).toBe(true);
    expect(gw.stats()).toMatchObject({ pendingRequests: 0, inFlight: 0 });
    const keys = new FleetKeys(cfg.redis.key_prefix, 1);
    const pub = new Redis(redisUrl());
    await pub.publish(keys.replyChannel(gw.gatewayId), encodeReply({ correlationId: '1:5', ok: true }));
    pub.disconnect();
    await sleep(100);
    expect(client.isClosed).toBe(false);
    expect((await client.publish(envelope())).type).toBe(FrameType.ACK);
  });
});
