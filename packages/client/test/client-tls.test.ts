import { ErrorCode } from '@fleet/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedCertificate } from '../../../test/helpers/tls.js';
import { connect, runLoad } from '../src/index.js';
import { FakeGateway } from './peer.js';

describe('client over TLS', () => {
  const tls = selfSignedCertificate();
  let gw: FakeGateway;
  let ca: Buffer;

  beforeAll(async () => {
    ca = tls.cert;
    gw = await FakeGateway.start({ tls: { cert: tls.cert, key: tls.key } });
  });
  afterAll(async () => {
    await gw?.close();
    tls.remove();
  });

  it('publishes over TLS with a trusted CA (servername from host)', async () => {
    const client = await connect({ host: 'localhost', port: gw.port, tls: { ca } });
    const r = await client.publish('secure.topic', 'over tls');
    expect(r.id).toBe(gw.received.at(-1)!.env.id);
    await client.close();
  });

  it('refuses an untrusted certificate', async () => {
    await expect(
      connect({ host: '127.0.0.1', port: gw.port, tls: true, reconnect: false }),
    ).rejects.toMatchObject({
      code: ErrorCode.UNAVAILABLE,
    });
  });

  it('runLoad works over TLS', async () => {
    const res = await runLoad({
      host: '127.0.0.1',
      port: gw.port,
      tls: { ca },
      connections: 2,
      window: 10,
      size: 10,
      durationS: 0.3,
    });
    expect(res.acked).toBeGreaterThan(0);
    expect(res.errors).toBe(0);
  });
});
