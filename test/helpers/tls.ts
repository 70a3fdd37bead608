import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificate {
  /** PEM files (for config paths such as tls.cert_path / tls.key_path). */
  certPath: string;
  keyPath: string;
  /** The same PEMs read back (the certificate doubles as the client's CA). */
  cert: Buffer;
  key: Buffer;
  /** Removes the temp dir. */
  remove(): void;
}

/** A throwaway self-signed EC certificate for localhost / 127.0.0.1, made with the openssl CLI. */
export function selfSignedCertificate(): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-test-tls-'));
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
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
  return {
    certPath,
    keyPath,
    cert: readFileSync(certPath),
    key: readFileSync(keyPath),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TestCertificateAuthority {
  /** The CA's certificate (PEM file): what `tls.ca_path` names to require client certificates. */
  caPath: string;
  /** A client certificate for `cn` signed by this CA (PEM cert + key read back). */
  issue(cn: string): { cert: Buffer; key: Buffer };
  /** Removes the temp dir. */
  remove(): void;
}

/** A throwaway CA made with the openssl CLI, issuing client certificates (mutual TLS tests). */
export function certificateAuthority(): TestCertificateAuthority {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-test-ca-'));
  const caPath = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca.key');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  execFileSync(
    'openssl',
    ['req', '-x509', ...ec, '-keyout', caKey, '-out', caPath, '-days', '1', '-subj', '/CN=fleet-test-ca'],
    { stdio: 'ignore' },
  );
  let n = 0;
  return {
    caPath,
    issue(cn: string) {
      const base = join(dir, `client-${n++}`);
      execFileSync(
        'openssl',
        ['req', ...ec, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${cn}`],
        { stdio: 'ignore' },
      );
      execFileSync(
        'openssl',
        [
          'x509',
          '-req',
          '-in',
          `${base}.csr`,
          '-CA',
          caPath,
          '-CAkey',
          caKey,
          '-CAcreateserial',
          '-days',
          '1',
          '-out',
          `${base}.pem`,
        ],
        { stdio: 'ignore' },
      );
      return { cert: readFileSync(`${base}.pem`), key: readFileSync(`${base}.key`) };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
