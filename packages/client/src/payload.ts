/** What publish/request accept as a payload: bytes as-is, strings as UTF-8, anything else as JSON. */
export type PayloadInput = Uint8Array | string | object;

export function toPayloadBytes(payload: PayloadInput): Uint8Array {
  if (payload instanceof Uint8Array) return payload;
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  return Buffer.from(JSON.stringify(payload), 'utf8');
}
