import {
  ENTRY_MAX_MESSAGES,
  EntryField,
  type Envelope,
  encodeEnvelope,
  encodeIngestBatch,
} from '@fleet/protocol';
import type { FleetRedis } from '@fleet/redis';

/**
 * Appends `n` messages to an ingest stream the way a busy gateway writes them (entries of
 * ENTRY_MAX_MESSAGES packed messages and the accepted time), pipelined in chunks, so a benchmark can time
 * a persister draining a backlog. Each pipeline names one stream (one slot: fine on a cluster too). `envelopeFor(i)` gives the i-th message (its id must be unique).
 */
export async function prefillIngestStream(
  redis: FleetRedis,
  stream: string,
  n: number,
  envelopeFor: (i: number) => Envelope,
): Promise<void> {
  const chunk = 50 * ENTRY_MAX_MESSAGES;
  for (let start = 0; start < n; start += chunk) {
    const pipe = redis.pipeline();
    const end = Math.min(n, start + chunk);
    for (let first = start; first < end; first += ENTRY_MAX_MESSAGES) {
      const records = [];
      for (let i = first; i < Math.min(end, first + ENTRY_MAX_MESSAGES); i++) {
        const env = envelopeFor(i);
        records.push({ envelope: encodeEnvelope(env), id: env.id });
      }
      pipe.xadd(
        stream,
        '*',
        EntryField.batch,
        encodeIngestBatch(records),
        EntryField.acceptedAt,
        String(Date.now()),
      );
    }
    await pipe.exec();
  }
}
