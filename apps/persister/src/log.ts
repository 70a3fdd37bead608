import { redactUrl } from '@fleet/config';
import { createLogger } from '@fleet/tracing';

/** The logging surface the persister needs (pino-compatible: object first, then message). */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export function defaultLogger(level = 'info'): Logger {
  return createLogger({ name: 'persister', level });
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };

/** Message of an error without anything that could carry a secret (the fleet's redaction rules). */
export function errorText(err: unknown): string {
  return redactUrl(err instanceof Error ? err.message : String(err));
}
