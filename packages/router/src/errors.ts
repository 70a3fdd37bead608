/** A handler ran past its timeout: its signal is aborted and the message fails with this error (the failure names the handler). */
export class HandlerTimeoutError extends Error {
  override readonly name = 'HandlerTimeoutError';
  constructor(
    readonly handlerName: string,
    readonly timeoutMs: number,
  ) {
    super(`timed out after ${timeoutMs} ms`);
  }
}

/** The route's signal (worker shutdown) fired while the handler ran. */
export class HandlerAbortedError extends Error {
  override readonly name = 'HandlerAbortedError';
  constructor(readonly handlerName: string) {
    super('aborted by shutdown');
  }
}

/** One line of error text for a thrown value (no stack). */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}
