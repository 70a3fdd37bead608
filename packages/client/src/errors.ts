import { closesConnection, ErrorCode, errorCodeName, ProtocolError } from '@fleet/protocol';

/** A failure the client reports: `code` is a protocol ErrorCode (errors.ts), `codeName` its lowercase name. */
export class FleetError extends Error {
  override readonly name = 'FleetError';
  readonly codeName: string;
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.codeName = errorCodeName[code] ?? `code_${code}`;
  }

  /** True when the gateway closes the connection after this code. */
  get closesConnection(): boolean {
    return closesConnection(this.code);
  }

  static from(e: unknown): FleetError {
    if (e instanceof FleetError) return e;
    if (e instanceof ProtocolError) return new FleetError(e.code, e.message);
    return new FleetError(ErrorCode.INTERNAL, e instanceof Error ? e.message : String(e));
  }
}

/** Codes after which retrying the same connection attempt is pointless. */
export const FATAL_HANDSHAKE_CODES: ReadonlySet<number> = new Set([
  ErrorCode.AUTH_REQUIRED,
  ErrorCode.AUTH_FAILED,
  ErrorCode.UNSUPPORTED_VERSION,
]);
