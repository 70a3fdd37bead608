/**
 * Thrown when Redis or Postgres cannot be found nor started. The message is ONE line that says how to
 * get the service; callers print `err.message` only (no stack trace), so the stack is trimmed to it too.
 */
export class ServiceUnavailableError extends Error {
  override readonly name = 'ServiceUnavailableError';
  constructor(message: string) {
    super(message);
    // Test runners and default handlers print `stack`; keep it the same single line.
    this.stack = message;
  }
}
