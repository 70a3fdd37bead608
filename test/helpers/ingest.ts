import { entryFields, type IngestRecord, ingestRecords } from '@fleet/protocol';
import type { Redis } from 'ioredis';

/** Every message in an ingest stream, in order (entries hold batches: XLEN counts entries, not messages). */
export async function ingestMessages(redis: Redis, stream: string): Promise<IngestRecord[]> {
  const out: IngestRecord[] = [];
  let from = '-';
  for (;;) {
    const rows = await redis.xrangeBuffer(stream, from, '+', 'COUNT', 1_000);
    for (const [, flat] of rows) out.push(...ingestRecords(entryFields(flat)));
    if (rows.length < 1_000) return out;
    from = `(${rows.at(-1)![0].toString()}`;
  }
}
