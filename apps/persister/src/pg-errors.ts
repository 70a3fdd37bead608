/**
 * Whether a Postgres failure is about reaching the database (retry the same batch later with backoff)
 * rather than about the data (split the batch and dead-letter the row Postgres refuses).
 */
const TRANSIENT_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'ENETUNREACH',
]);

export function isTransientPgError(err: unknown): boolean {
  if (!(err instanceof Error)) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (TRANSIENT_NODE_CODES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code)) {
      // 08 connection, 53 resources, 57 operator intervention (shutdown), 58 system, 40 rollback (deadlock, serialization), 55P03 lock.
      return /^(08|53|57|58|40|XX)/.test(code) || code === '55P03';
    }
    return true;
  }
  // Errors without a SQLSTATE come from the driver or pool (terminated connection, connect timeout): transient.
  return true;
}
