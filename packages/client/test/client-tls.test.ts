import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@fleet/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, runLoad } from '../src/index.js';
import { FakeGateway } from './peer.js';

describe('client over TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-client-tls-'));
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  let gw: FakeGateway;
  let ca: Buffer;

  beforeAll(async () => {
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
        keyPath,
        '-out',
        certPath,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    ca = readFileSync(certPath);
    gw = await FakeGateway.start({ tls: { cert: ca, key: readFileSync(keyPath) } });
  });
  afterAll(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
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
