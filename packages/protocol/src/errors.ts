/**
 * Protocol error codes: the numeric codes sent in ERROR frames and carried by typed errors.
 * docs/protocol.md lists them; `closesConnection` says which ones end the connection.
 */
export const ErrorCode = {
  MALFORMED_FRAME: 1,
  FRAME_TOO_LARGE: 2,
  UNSUPPORTED_VERSION: 3,
  UNKNOWN_FRAME_TYPE: 4,
  HELLO_REQUIRED: 5,
  AUTH_REQUIRED: 6,
  AUTH_FAILED: 7,
  INVALID_TOPIC: 8,
  INVALID_ENVELOPE: 9,
  PAYLOAD_TOO_LARGE: 10,
  UNAVAILABLE: 11,
  OVERLOADED: 12,
  TIMEOUT: 13,
  NOT_SUPPORTED: 14,
  SHUTTING_DOWN: 15,
  HANDLER_ERROR: 16,
  INTERNAL: 17,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const errorCodeName: Record<number, string> = Object.fromEntries(
  Object.entries(ErrorCode).map(([name, code]) => [code, name.toLowerCase()]),
);

/** Framing-level errors after which the byte stream cannot be trusted: the gateway closes the connection. */
const CLOSING = new Set<number>([
  ErrorCode.MALFORMED_FRAME,
  ErrorCode.FRAME_TOO_LARGE,
  ErrorCode.UNSUPPORTED_VERSION,
  ErrorCode.HELLO_REQUIRED,
  ErrorCode.AUTH_REQUIRED,
  ErrorCode.AUTH_FAILED,
  ErrorCode.SHUTTING_DOWN,
]);
export function closesConnection(code: number): boolean {
  return CLOSING.has(code);
}

/**
 * Errors that close the connection only when sent about the connection (corr 0): a deadline of the
 * connection (idle, handshake, unfinished frame) or a connection limit. With a frame's corr they answer
 * that frame and the connection stays.
 */
const CLOSING_AT_CORR_0 = new Set<number>([ErrorCode.OVERLOADED, ErrorCode.TIMEOUT]);
export function closesWhenCorrZero(code: number): boolean {
  return CLOSING_AT_CORR_0.has(code);
}

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}
