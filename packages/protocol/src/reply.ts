/**
 * Where a REQUEST's reply goes: `<gatewayId>|<correlationId>`, carried by the ingest entry (replyTo), the
 * `messages` row and the job (`r`); gateway ids never contain "|" (ids.ts newGatewayId).
 */
export interface ReplyAddress {
  gatewayId: string;
  correlationId: string;
}

export function formatReplyAddress(r: ReplyAddress): string {
  return `${r.gatewayId}|${r.correlationId}`;
}

export function parseReplyAddress(s: string): ReplyAddress | null {
  const i = s.indexOf('|');
  if (i <= 0) return null;
  return { gatewayId: s.slice(0, i), correlationId: s.slice(i + 1) };
}

/**
 * Messages on a gateway's pub/sub channels (keys.ts replyChannel / durableChannel).
 * Replies: worker -> gateway, one JSON object per PUBLISH (payload base64: handlers return bytes or JSON).
 * Durable notifications: persister -> gateway, message ids joined by "\n", sent after the Postgres commit.
 */
export interface ReplyMessage {
  /** The REQUEST's correlation id (the reply address's second half). */
  correlationId: string;
  ok: boolean;
  /** Result bytes (ok) */
  payload?: Uint8Array;
  /** Error text (not ok). */
  error?: string;
  traceparent?: string;
}

export function encodeReply(r: ReplyMessage): string {
  return JSON.stringify({
    c: r.correlationId,
    o: r.ok ? 1 : 0,
    p: r.payload
      ? Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength).toString('base64')
      : undefined,
    x: r.error,
    t: r.traceparent,
  });
}

export function decodeReply(s: string | Buffer): ReplyMessage | null {
  try {
    const o = JSON.parse(s.toString());
    if (typeof o?.c !== 'string') return null;
    const r: ReplyMessage = { correlationId: o.c, ok: o.o === 1 };
    if (typeof o.p === 'string') r.payload = Buffer.from(o.p, 'base64');
    if (typeof o.x === 'string') r.error = o.x;
    if (typeof o.t === 'string') r.traceparent = o.t;
    return r;
  } catch {
    return null;
  }
}

export function encodeDurableIds(ids: readonly string[]): string {
  return ids.join('\n');
}

export function decodeDurableIds(s: string | Buffer): string[] {
  const text = s.toString();
  return text.length === 0 ? [] : text.split('\n');
}
