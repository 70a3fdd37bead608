import { describe, expect, it } from 'vitest';
import { type BatchItem, commandAnswered, encodeXaddBatch } from '../src/resp.js';

// Commands of ~900 KB: a few fill a slab, so the tests see slabs change.
const item: BatchItem = {
  envelope: Buffer.alloc(900_000, 0x61),
  messageId: 'm',
  traceparent: '',
  replyTo: '',
  durable: '',
};

/** Encodes commands (after `first`) until one lands in a new slab: the full slab's commands, and that one. */
function fillSlab(first = encodeXaddBatch('k', '1', [item])): { full: Buffer[]; next: Buffer } {
  const full = [first];
  for (let i = 0; i < 10; i++) {
    const b = encodeXaddBatch('k', '1', [item]);
    if (b.buffer !== first.buffer) return { full, next: b };
    full.push(b);
  }
  throw new Error('10 commands of ~900 KB in one slab: the slab was reused while still filling');
}

describe('command slabs (resp.ts): reused only once every command of theirs was answered with success', () => {
  it('a slab with an unanswered command is not reused; answered with success, it is', () => {
    const a = fillSlab();
    const b = fillSlab(a.next);
    for (const w of a.full.slice(0, -1)) commandAnswered(w, true);
    for (const w of b.full) commandAnswered(w, true);
    const c = fillSlab(b.next); // one command of a's slab unanswered: b's slab (answered) comes back
    expect(c.next.buffer === b.full[0]!.buffer).toBe(true);
    commandAnswered(a.full.at(-1)!, true);
    const d = fillSlab(c.next);
    expect(d.next.buffer === a.full[0]!.buffer).toBe(true); // now a's slab is spare (the last one answered)
    expect(d.next.equals(encodeXaddBatch('k', '1', [item]))).toBe(true); // a whole, correct command
  });

  it('a slab with a failed command is never reused (its bytes may still wait in a socket queue)', () => {
    const a = fillSlab(fillSlab().next); // a slab of its own (the first one may hold commands of before)
    commandAnswered(a.full[0]!, false);
    for (const w of a.full.slice(1)) commandAnswered(w, true);
    const seen = new Set<ArrayBufferLike>();
    let next = a.next;
    for (let i = 0; i < 6; i++) {
      const s = fillSlab(next);
      for (const w of s.full) commandAnswered(w, true);
      seen.add(s.next.buffer);
      next = s.next;
    }
    expect(seen.has(a.full[0]!.buffer)).toBe(false);
    expect(seen.size).toBeLessThan(6); // slabs are reused meanwhile
  });
});
