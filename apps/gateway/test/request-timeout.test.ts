import { ErrorCode, encodeReply, FleetKeys, FrameType } from '@fleet/protocol';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { envelope, gatewayConfig, redisUrl, sleep, useClient, useGateway } from './helpers.js';

// Without a reply, a REQUEST gets ERROR TIMEOUT at its deadline and the gateway forgets it.
describe('request timeout', () => {
  // Deadlines far apart (150 ms asked, 2 s default, 4 s cap), so each check tells which deadline fired
  // with seconds of margin on a loaded machine, instead of a tight upper bound on wall-clock time.
  const cfg = gatewayConfig({ requests: { default_timeout_ms: 2_000, max_timeout_ms: 4_000 } });
  const gw = useGateway(cfg);
  const client = useClient(gw);

  it('uses the requested deadline', async () => {
    const started = Date.now();
    const res = await client().request(envelope(), 150);
    expect(res).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.TIMEOUT });
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(140); // never early (Date.now granularity aside)
    expect(took).toBeLessThan(1_900); // the requested deadline, not the 2 s default
  });

  it('uses requests.default_timeout_ms when none is given and caps at max_timeout_ms', async () => {
    let started = Date.now();
    expect(await client().request(envelope(), 0)).toMatchObject({ code: ErrorCode.TIMEOUT });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_990);
    started = Date.now();
    expect(await client().request(envelope(), 60_000)).toMatchObject({ code: ErrorCode.TIMEOUT });
    const capped = Date.now() - started;
    expect(capped).toBeGreaterThanOrEqual(3_990);
    expect(capped).toBeLessThan(20_000); // the 4 s cap, not the 60 s asked
  }, 40_000);

  it('forgets expired requests: no leak, late replies are ignored', async () => {
    const answers = await Promise.all(Array.from({ length: 1_000 }, () => client().request(envelope(), 100)));
    expect(answers.every((a) => a.type === FrameType.ERROR && a.code === ErrorCode.TIMEOUT)).toBe(true);
    expect(gw.stats()).toMatchObject({ pendingRequests: 0, inFlight: 0 });
    const keys = new FleetKeys(cfg.redis.key_prefix, 1);
    const pub = new Redis(redisUrl());
    await pub.publish(keys.replyChannel(gw.gatewayId), encodeReply({ correlationId: '1:5', ok: true }));
    pub.disconnect();
    await sleep(100);
    expect(client().isClosed).toBe(false);
    expect((await client().publish(envelope())).type).toBe(FrameType.ACK);
  });
});
