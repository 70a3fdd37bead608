import { connect as tlsConnect } from 'node:tls';
import { FrameType } from '@fleet/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { certificateAuthority, selfSignedCertificate } from '../../../test/helpers/tls.js';
import { envelope, gatewayConfig, RawClient, useGateway } from './helpers.js';

// tls.ca_path turns on mutual TLS: a client must present a certificate signed by that CA. A client with
// none, or with one the CA did not sign, never gets a WELCOME; trusted clients are served meanwhile.
describe('mutual tls (tls.ca_path)', () => {
  const server = selfSignedCertificate();
  const ca = certificateAuthority();
  const stranger = certificateAuthority();
  const cfg = gatewayConfig({
    tls: { enabled: true, cert_path: server.certPath, key_path: server.keyPath, ca_path: ca.caPath },
  });
  const gw = useGateway(cfg);

  /** A TLS connection presenting `client` (or no certificate); resolves once the client's side is up. */
  function dial(client?: { cert: Buffer; key: Buffer }): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect(
        { port: gw.port, host: '127.0.0.1', ca: server.cert, servername: 'localhost', ...client },
        () => resolve(new RawClient(socket)),
      );
      socket.once('error', reject);
    });
  }

  /** True when the connection ends (or fails) without a WELCOME to its HELLO. */
  async function refused(client?: { cert: Buffer; key: Buffer }): Promise<boolean> {
    let c: RawClient;
    try {
      c = await dial(client);
    } catch {
      return true; // refused during the handshake (TLS 1.2 style)
    }
    // TLS 1.3: the server checks the client's certificate after the client's handshake completes and
    // answers a bad one with an alert: the HELLO then never gets a WELCOME and the socket closes.
    c.hello().catch(() => {});
    await Promise.race([c.closed, c.next((f) => f.type === FrameType.WELCOME)]);
    const welcomed = c.frames.some((f) => f.type === FrameType.WELCOME);
    if (!c.isClosed) await c.close();
    return !welcomed;
  }

  afterAll(async () => {
    server.remove();
    ca.remove();
    stranger.remove();
  });

  it('serves a client whose certificate the configured CA signed', async () => {
    const c = await dial(ca.issue('trusted-client'));
    expect((await c.hello()).type).toBe(FrameType.WELCOME);
    expect((await c.publish(envelope())).type).toBe(FrameType.ACK);
    await c.close();
  });

  it('refuses a client without a certificate', async () => {
    expect(await refused()).toBe(true);
  });

  it('refuses a client whose certificate another CA signed, and keeps serving trusted ones', async () => {
    // Mutation checked: with rejectUnauthorized: false in the gateway's TLS options, the untrusted client
    // gets a WELCOME and this test fails.
    expect(await refused(stranger.issue('untrusted-client'))).toBe(true);
    const c = await dial(ca.issue('trusted-again'));
    expect((await c.hello()).type).toBe(FrameType.WELCOME);
    await c.close();
  });
});
