import { randomFillSync } from 'node:crypto';

/**
 * Cheap identifiers for the hot path: random bytes come from one pooled buffer refilled in bulk,
 * so a message id costs a slice and a hex conversion, not a syscall.
 */
const POOL_BYTES = 16 * 1024;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let poolOffset = POOL_BYTES;

function randomHex(bytes: number): string {
  if (poolOffset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const s = pool.toString('hex', poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return s;
}

/** Time-ordered random message id in UUIDv7 layout (48-bit ms timestamp, version 7, variant 10, random). */
export function newMessageId(now = Date.now()): string {
  const ts = now.toString(16).padStart(12, '0');
  const r = randomHex(10);
  const variant = ((Number.parseInt(r[3]!, 16) & 0x3) | 0x8).toString(16);
  return `${ts.slice(0, 8)}-${ts.slice(8, 12)}-7${r.slice(0, 3)}-${variant}${r.slice(4, 7)}-${r.slice(8, 20)}`;
}

/** Unique-enough gateway id: host, pid and a random suffix (never contains "|", the reply-address separator). */
export function newGatewayId(hostname: string, pid: number): string {
  const host = hostname.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40) || 'host';
  return `gw-${host}-${pid}-${randomHex(3)}`;
}
