// The persister's check of derived trace marks: the gateway gives a mark to any id shaped like a UUID
// (mayTraceById); the persister keeps it only when the id can carry its trace, else the row and its job
// get a generated traceparent with the mark's flags, so Postgres and the worker agree.
import { EntryField, encodeEnvelope, encodeIngestBatch, isTraceparent } from '@fleet/protocol';
import { describe, expect, it } from 'vitest';
import { decodeEntry } from '../src/stream-entry-decoder.js';

function rowOf(id: string, traceparent: string) {
  const envelope = encodeEnvelope({
    id,
    topic: 't.x',
    type: 'event',
    priority: 0,
    timestamp: Date.now(),
    headers: {},
    payload: Buffer.from('{}'),
  });
  const fields = new Map<string, Buffer>([
    [EntryField.batch, encodeIngestBatch([{ envelope, id, traceparent }])],
    [EntryField.acceptedAt, Buffer.from(String(Date.now()))],
  ]);
  const [d] = decodeEntry({ stream: 's', id: '1-0', fields });
  if (!d?.ok) throw new Error(`not decoded: ${JSON.stringify(d)}`);
  return d.row;
}

describe('derived trace marks in the persister', () => {
  it('keeps the mark of a lowercase UUID id (the row and its job carry 2 bytes)', () => {
    expect(rowOf('0190a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b', '01').traceparent).toBe('01');
  });

  it('gives an id shaped like a UUID but not one a generated traceparent with the flags', () => {
    for (const [id, mark] of [
      ['0190A3B4-C5D6-7E8F-9A0B-1C2D3E4F5A6B', '01'], // uppercase
      ['0190a3b4-c5d6-7e8f-0000-000000000000', '00'], // zero span part
      ['order-42-xxxx-xxxx-xxxx-xxxxxxxxxxxx', '01'], // not hex
    ]) {
      const tp = rowOf(id!, mark!).traceparent!;
      expect(isTraceparent(tp)).toBe(true);
      expect(tp.slice(53)).toBe(mark);
    }
  });

  it('passes a full traceparent on as it came', () => {
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    expect(rowOf('any-id', tp).traceparent).toBe(tp);
  });
});
