import { decodeIngestBatch, EntryField, isTraceparent } from '@fleet/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BatchItem, encodeXaddBatch } from '../src/resp.js';

/** The bulk strings of one RESP array (what Redis would read as the command's arguments). */
function respArgs(buf: Buffer): Buffer[] {
  let off = 0;
  const line = () => {
    const end = buf.indexOf('\r\n', off);
    const s = buf.toString('latin1', off, end);
    off = end + 2;
    return s;
  };
  const head = line();
  expect(head[0]).toBe('*');
  const out: Buffer[] = [];
  for (let i = 0; i < Number(head.slice(1)); i++) {
    const h = line();
    expect(h[0]).toBe('$');
    const len = Number(h.slice(1));
    out.push(buf.subarray(off, off + len));
    expect(buf.toString('latin1', off + len, off + len + 2)).toBe('\r\n');
    off += len + 2;
  }
  expect(off).toBe(buf.length);
  return out;
}

const itemArb: fc.Arbitrary<BatchItem> = fc.record({
  envelope: fc.uint8Array({ minLength: 1, maxLength: 200 }).map((a) => Buffer.from(a)),
  messageId: fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }),
  traceparent: fc.oneof(
    fc.constant(''),
    fc.constant(1),
    fc.constant('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'),
  ),
  replyTo: fc.oneof(fc.constant(''), fc.string({ minLength: 1, maxLength: 30, unit: 'grapheme' })),
  durable: fc.oneof(fc.constant(''), fc.constant('gw-1')),
});

describe('encodeXaddBatch: the gateway hot path command', () => {
  it('is one XADD whose batch field decodes back to the messages, with generated traceparents in place', () => {
    fc.assert(
      fc.property(fc.array(itemArb, { minLength: 1, maxLength: 30 }), (items) => {
        const args = respArgs(encodeXaddBatch('fleet:{ingest}:0', '1764201600123', items));
        expect(args.map((a, i) => (i === 4 ? 'blob' : a.toString()))).toEqual([
          'XADD',
          'fleet:{ingest}:0',
          '*',
          EntryField.batch,
          'blob',
          EntryField.acceptedAt,
          '1764201600123',
        ]);
        const records = decodeIngestBatch(args[4]!);
        expect(records).toHaveLength(items.length);
        records.forEach((r, i) => {
          const it = items[i]!;
          expect([...r.envelope]).toEqual([...it.envelope]);
          expect(r.id).toBe(it.messageId);
          if (typeof it.traceparent === 'number') expect(isTraceparent(r.traceparent!)).toBe(true);
          else expect(r.traceparent).toBe(it.traceparent || undefined);
          expect(r.replyTo).toBe(it.replyTo || undefined);
          expect(r.durableAck).toBe(it.durable || undefined);
        });
      }),
    );
  });
});
