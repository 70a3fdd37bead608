import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryField, FleetKeys, FrameType } from '@fleet/protocol';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/index.js';
import { cleanupRedisPrefix, envelope, gatewayConfig, RawClient, redisUrl, withGateway } from './helpers.js';

// tls.enabled serves the same protocol over TLS with the configured certificate and key.
describe('tls', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-gw-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  const cfg = gatewayConfig({ tls: { enabled: true, cert_path: cert, key_path: key } });
  let gw: Gateway;

  beforeAll(async () => {
    gw = await withGateway(cfg);
  });
  afterAll(async () => {
    await gw.close();
    await cleanupRedisPrefix(cfg.redis.key_prefix);
    rmSync(dir, { recursive: true, force: true });
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
    expect(rows[0]![1]).toContain(EntryField.envelope);
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
