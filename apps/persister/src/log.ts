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

/** Message of an error without anything that could carry a secret (URLs are stripped of credentials). */
export function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^@/\s]*@/gi, '$1***@');
}

/** Error lines of a retry loop: true at most once per `intervalMs` (the loop may retry every second). */
export function rateLimiter(intervalMs: number): () => boolean {
  let last = Number.NEGATIVE_INFINITY;
  return () => {
    const now = Date.now();
    if (now - last < intervalMs) return false;
    last = now;
    return true;
  };
}

/** At most one line per this interval from a loop that keeps failing on the same batch. */
export const ERROR_LOG_INTERVAL_MS = 10_000;
