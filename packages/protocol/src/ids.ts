import { randomBytes, randomFillSync } from 'node:crypto';
import { HEX_BYTE } from './hex.js';

/**
 * Message ids (client-side, and the gateway's for PUBLISHes without one): UUIDv7 layout (48-bit ms
 * timestamp, version 7, variant 10, 74 random bits), so ids sort by creation time and a resend after a
 * reconnect can reuse the same id (the fleet's idempotency key). Random bytes come from a pooled buffer
 * refilled in bulk: one id costs a few table lookups, not a syscall.
 */
const POOL_BYTES = 16 * 1024;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let poolOffset = POOL_BYTES;

export function newMessageId(now = Date.now()): string {
  if (poolOffset + 10 > POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const p = pool;
  const o = poolOffset;
  poolOffset += 10;
  const hi = Math.floor(now / 0x10000); // top 32 of the 48 timestamp bits
  const lo = now & 0xffff;
  return (
    HEX_BYTE[(hi >>> 24) & 0xff]! +
    HEX_BYTE[(hi >>> 16) & 0xff]! +
    HEX_BYTE[(hi >>> 8) & 0xff]! +
    HEX_BYTE[hi & 0xff]! +
    '-' +
    HEX_BYTE[lo >>> 8]! +
    HEX_BYTE[lo & 0xff]! +
    '-' +
    HEX_BYTE[0x70 | (p[o]! & 0x0f)]! +
    HEX_BYTE[p[o + 1]!]! +
    '-' +
    HEX_BYTE[0x80 | (p[o + 2]! & 0x3f)]! +
    HEX_BYTE[p[o + 3]!]! +
    '-' +
    HEX_BYTE[p[o + 4]!]! +
    HEX_BYTE[p[o + 5]!]! +
    HEX_BYTE[p[o + 6]!]! +
    HEX_BYTE[p[o + 7]!]! +
    HEX_BYTE[p[o + 8]!]! +
    HEX_BYTE[p[o + 9]!]!
  );
}

/**
 * Unique-enough gateway id: host, pid and a random suffix. Never contains "|", the reply-address
 * separator (reply.ts), since only `[A-Za-z0-9_.-]` survive.
 */
export function newGatewayId(hostname: string, pid: number): string {
  const host = hostname.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40) || 'host';
  return `gw-${host}-${pid}-${randomBytes(3).toString('hex')}`;
}
