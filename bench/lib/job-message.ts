import { encodeEnvelope, type JobMessage } from '@fleet/protocol';

/** A first-attempt job message for the no-op `bench.noop` topic, as the persister would enqueue it. */
export function benchJobMessage(id: string, payload: Buffer, timestamp = Date.now()): JobMessage {
  const e = encodeEnvelope({
    id,
    topic: 'bench.noop',
    type: 'event',
    priority: 1,
    timestamp,
    headers: {},
    payload,
  });
  return { id, e: e.toString('base64'), n: 0 };
}
