/**
 * Field names of one ingest stream entry (XADD ... <field> <value> ...), written by the gateway and read
 * by the persister. The envelope travels as the binary envelope codec's bytes, exactly as the client sent
 * them (no re-encoding on the gateway's hot path); fields the gateway assigns travel beside it.
 */
export const EntryField = {
  /** Binary envelope (envelope.ts codec). */
  envelope: 'e',
  /** Message id (duplicated out of the envelope so the persister can dead-letter undecodable entries by id). */
  id: 'i',
  /** traceparent chosen by the gateway when the client sent none (else absent: the envelope's wins). */
  traceparent: 't',
  /** Reply address `<gatewayId>|<correlationId>` for REQUESTs (absent for publishes). */
  replyTo: 'r',
  /** Gateway id to notify after the Postgres commit, present only for `durable` publishes. */
  durableAck: 'd',
  /** Milliseconds since epoch when the gateway accepted it. */
  acceptedAt: 'a',
} as const;

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
