import { ENTRY_MAX_MESSAGES } from '@fleet/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { entriesPerRead, READ_OVERSHOOT } from '../src/ingest-consumer.js';

describe('entriesPerRead: sizing XREADGROUP COUNT from recent entry sizes', () => {
  it('asks for about read_count messages', () => {
    expect(entriesPerRead(2_000, 100)).toBe(20);
    expect(entriesPerRead(2_000, 25)).toBe(80);
    expect(entriesPerRead(1_000, 100)).toBe(10);
    expect(entriesPerRead(5, 100)).toBe(1);
  });

  it('never asks for more than READ_OVERSHOOT x the full-entry count, never less than one entry', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }),
        fc.double({ min: 0, max: ENTRY_MAX_MESSAGES, noNaN: true }),
        (rc, per) => {
          const n = entriesPerRead(rc, per);
          expect(n).toBeGreaterThanOrEqual(1);
          expect(n).toBeLessThanOrEqual(Math.max(1, Math.ceil(rc / ENTRY_MAX_MESSAGES) * READ_OVERSHOOT));
          // Full entries: the read holds at most read_count messages rounded up to whole entries.
          if (per >= ENTRY_MAX_MESSAGES) expect(n).toBe(Math.ceil(rc / ENTRY_MAX_MESSAGES));
        },
      ),
    );
  });
});
