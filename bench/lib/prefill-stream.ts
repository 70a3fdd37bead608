import { EntryField, type Envelope, encodeEnvelope } from '@fleet/protocol';
import type { Redis } from 'ioredis';

/**
 * Appends `n` entries to an ingest stream the way the gateway writes them (binary envelope, id, accepted
 * time), pipelined in chunks, so a benchmark can time a persister draining a backlog.
 * `envelopeFor(i)` gives the i-th message (its id must be unique).
 */
export async function prefillIngestStream(
  redis: Redis,
  stream: string,
  n: number,
  envelopeFor: (i: number) => Envelope,
): Promise<void> {
  const chunk = 5_000;
  for (let start = 0; start < n; start += chunk) {
    const pipe = redis.pipeline();
    for (let i = start; i < Math.min(n, start + chunk); i++) {
      const env = envelopeFor(i);
      pipe.xadd(
        stream,
        '*',
        EntryField.envelope,
        encodeEnvelope(env),
        EntryField.id,
        env.id,
        EntryField.acceptedAt,
        String(Date.now()),
      );
    }
    await pipe.exec();
  }
}
