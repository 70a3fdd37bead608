import { readFileSync } from 'node:fs';
import { EntryField, FleetKeys, FrameType } from '@fleet/protocol';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { selfSignedCertificate } from '../../../test/helpers/tls.js';
import { envelope, gatewayConfig, RawClient, redisUrl, useGateway } from './helpers.js';

// tls.enabled serves the same protocol over TLS with the configured certificate and key.
describe('tls', () => {
  const tls = selfSignedCertificate();
  const cert = tls.certPath;
  const key = tls.keyPath;
  const cfg = gatewayConfig({ tls: { enabled: true, cert_path: cert, key_path: key } });
  const gw = useGateway(cfg);

  afterAll(async () => {
    tls.remove();
  });

  it('round-trips HELLO, PUBLISH and ACK over TLS', async () => {
    const c = await RawClient.connect(gw.port, { ca: readFileSync(cert) });
    expect(await c.hello()).toMatchObject({ type: FrameType.WELCOME, gatewayId: gw.gatewayId });
    const env = envelope({ payload: Buffer.from('over tls') });
    const ack = await c.publish(env);
    if (ack.type !== FrameType.ACK) throw new Error(JSON.stringify(ack));
    const keys = new FleetKeys(cfg.redis.key_prefix, 1);
    const redis = new Redis(redisUrl());
    const rows = await redis.xrange(keys.ingestStream(0), ack.streamId, ack.streamId);
    redis.disconnect();
    expect(rows[0]![1]).toContain(EntryField.batch);
    await c.close();
  });

  it('refuses plain TCP without disturbing TLS clients', async () => {
    const plain = await RawClient.connect(gw.port);
    plain.write(Buffer.from('not a tls hello, just bytes'));
    await plain.closed;
    const c = await RawClient.connect(gw.port, { ca: readFileSync(cert) });
    expect((await c.hello()).type).toBe(FrameType.WELCOME);
    await c.close();
  });
});
