import type { ReplyData } from './types.js';

/** Reply bytes: Uint8Array as-is, a string as UTF-8, anything else as JSON text. */
export function replyBytes(data: ReplyData): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  const json = JSON.stringify(data);
  if (json === undefined) throw new TypeError('reply data is not JSON-serializable');
  return Buffer.from(json, 'utf8');
}
