import type { Envelope } from '@fleet/protocol';

/** A minimal valid envelope for router tests. */
export function envelope(
  topic: string,
  payload: string | object = '',
  extra: Partial<Envelope> = {},
): Envelope {
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return {
    id: `m-${Math.random().toString(36).slice(2)}`,
    topic,
    type: 'event',
    priority: 0,
    timestamp: Date.now(),
    headers: {},
    payload: Buffer.from(text),
    ...extra,
  };
}
