import { createHash, timingSafeEqual } from 'node:crypto';

/** ops.basic_auth: the one credential check of every ops and metrics server (persister, gateway, worker). */
export interface BasicAuthCredentials {
  username: string;
  password: string;
}

const SCHEME = 'basic ';

// Fixed-length digests, so the comparison takes the same time whatever the lengths of the two strings.
function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** True when an `Authorization` header carries exactly these credentials (RFC 7617, UTF-8). */
export function basicAuthMatches(header: string | undefined, creds: BasicAuthCredentials): boolean {
  if (!header || header.length <= SCHEME.length || header.slice(0, SCHEME.length).toLowerCase() !== SCHEME)
    return false;
  const decoded = Buffer.from(header.slice(SCHEME.length).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  // Both halves are always compared: no early exit tells which one was wrong.
  const userOk = timingSafeEqual(digest(decoded.slice(0, colon)), digest(creds.username));
  const passOk = timingSafeEqual(digest(decoded.slice(colon + 1)), digest(creds.password));
  return userOk && passOk;
}

/** The `WWW-Authenticate` value of a 401: browsers then ask for the credentials. */
export function basicAuthChallenge(realm: string): string {
  return `Basic realm="${realm}", charset="UTF-8"`;
}
