/**
 * Redis stream ids `<ms>-<seq>` (ingest entry ids, ACK `stream_id`, consumer offsets): comparison and
 * successor, exact for any 64-bit parts.
 */
const STREAM_ID = /^\d+(-\d+)?$/;

function parts(id: string): [bigint, bigint] {
  const dash = id.indexOf('-');
  if (dash < 0) return [BigInt(id), 0n];
  return [BigInt(id.slice(0, dash)), BigInt(id.slice(dash + 1))];
}

/** Decimal digit strings without leading zeros compare by length, then as text. */
function compareDecimal(a: string, b: string): number | null {
  if ((a.length > 1 && a.charCodeAt(0) === 48) || (b.length > 1 && b.charCodeAt(0) === 48)) return null;
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** Numeric order of stream ids (`9-0` < `10-0`); anything that is not a stream id compares as text. */
export function compareStreamIds(a: string, b: string): number {
  if (a === b) return 0;
  // Fast path (every id Redis hands out): no BigInt per comparison on the per-entry hot path.
  const da = a.indexOf('-');
  const db = b.indexOf('-');
  if (da > 0 && db > 0) {
    const ms = compareDecimal(a.slice(0, da), b.slice(0, db));
    const seq = ms === 0 ? compareDecimal(a.slice(da + 1), b.slice(db + 1)) : ms;
    if (seq !== null) return Math.sign(seq);
  }
  if (!STREAM_ID.test(a) || !STREAM_ID.test(b)) return a < b ? -1 : 1;
  const [am, as] = parts(a);
  const [bm, bs] = parts(b);
  if (am !== bm) return am < bm ? -1 : 1;
  if (as !== bs) return as < bs ? -1 : 1;
  return 0;
}

/** The smallest id greater than `id`. */
export function nextStreamId(id: string): string {
  const [ms, seq] = parts(id);
  return seq === 0xffff_ffff_ffff_ffffn ? `${ms + 1n}-0` : `${ms}-${seq + 1n}`;
}

export function maxStreamId(a: string | undefined, b: string): string {
  return a === undefined || compareStreamIds(a, b) < 0 ? b : a;
}
