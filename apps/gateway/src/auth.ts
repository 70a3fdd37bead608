import { createHash, timingSafeEqual } from 'node:crypto';
import { ErrorCode } from '@fleet/protocol';

/**
 * Token check for HELLO. Tokens are compared as SHA-256 digests with timingSafeEqual (equal lengths by
 * construction) against every configured token without an early exit, so timing reveals neither which
 * token matched nor how much of it. Tokens are never logged.
 */
export class TokenAuth {
  private readonly digests: Buffer[];

  constructor(tokens: readonly string[]) {
    this.digests = tokens.map(digest);
  }

  get required(): boolean {
    return this.digests.length > 0;
  }

  /** null when accepted, else the error code to answer (AUTH_REQUIRED / AUTH_FAILED). */
  check(token: string | undefined): number | null {
    if (!this.required) return null;
    if (!token) return ErrorCode.AUTH_REQUIRED;
    const d = digest(token);
    let ok = false;
    for (const known of this.digests) ok = timingSafeEqual(d, known) || ok;
    return ok ? null : ErrorCode.AUTH_FAILED;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
