import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeIngestBatch,
  EntryField,
  encodeIngestBatch,
  entryFields,
  IngestBatchError,
  type IngestRecord,
  ingestRecords,
} from '../src/stream-entry.js';

const optionalText = (max: number) =>
  fc.option(fc.string({ minLength: 1, maxLength: max, unit: 'grapheme' }), { nil: undefined });

const recordArb: fc.Arbitrary<IngestRecord> = fc
  .record({
    envelope: fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => Buffer.from(a)),
    id: fc.string({ minLength: 1, maxLength: 128, unit: 'grapheme' }),
    traceparent: optionalText(55),
    replyTo: optionalText(80),
    durableAck: optionalText(40),
  })
  .map((r) => {
    const out: IngestRecord = { envelope: r.envelope, id: r.id };
    if (r.traceparent !== undefined) out.traceparent = r.traceparent;
    if (r.replyTo !== undefined) out.replyTo = r.replyTo;
    if (r.durableAck !== undefined) out.durableAck = r.durableAck;
    return out;
  });

/** What a batch should read back as (envelopes compared as bytes). */
const plain = (records: IngestRecord[]) => records.map((r) => ({ ...r, envelope: [...r.envelope] }));

describe('ingest entries (gateway -> persister)', () => {
  it('a packed batch reads back record for record, in order', () => {
    fc.assert(
      fc.property(fc.array(recordArb, { maxLength: 50 }), (records) => {
        expect(plain(decodeIngestBatch(encodeIngestBatch(records)))).toEqual(plain(records));
      }),
    );
  });

  it('any bytes decode to records or an IngestBatchError, never another exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeIngestBatch(Buffer.from(bytes));
        } catch (err) {
          expect(err).toBeInstanceOf(IngestBatchError);
        }
      }),
    );
  });

  it('a truncated batch is refused, never read as fewer records', () => {
    fc.assert(
      fc.property(fc.array(recordArb, { minLength: 1, maxLength: 10 }), fc.nat(), (records, cut) => {
        const bytes = encodeIngestBatch(records);
        const at = 1 + (cut % (bytes.length - 1));
        expect(() => decodeIngestBatch(bytes.subarray(0, at))).toThrow(IngestBatchError);
      }),
    );
  });

  it('reads both entry formats: a batch, and the single-message fields written before batches', () => {
    const env = Buffer.from([1, 2, 3]);
    const batch = encodeIngestBatch([
      { envelope: env, id: 'a', durableAck: 'gw-1' },
      { envelope: env, id: 'b' },
    ]);
    const fromBatch = ingestRecords(
      entryFields([Buffer.from(EntryField.batch), batch, Buffer.from('a'), Buffer.from('1')]),
    );
    expect(fromBatch.map((r) => [r.id, r.durableAck])).toEqual([
      ['a', 'gw-1'],
      ['b', undefined],
    ]);
    const single = new Map<string, Buffer>([
      [EntryField.envelope, env],
      [EntryField.id, Buffer.from('c')],
      [EntryField.traceparent, Buffer.from('')],
      [EntryField.replyTo, Buffer.from('gw-2|7')],
    ]);
    expect(ingestRecords(single)).toEqual([{ envelope: env, id: 'c', replyTo: 'gw-2|7' }]);
    expect(() => ingestRecords(new Map([[EntryField.id, Buffer.from('x')]]))).toThrow(/missing field 'e'/);
    expect(() => ingestRecords(new Map([[EntryField.envelope, env]]))).toThrow(/missing field 'i'/);
    expect(() => ingestRecords(new Map([[EntryField.batch, Buffer.from([2])]]))).toThrow(
      /unknown batch version 2/,
    );
  });
});
