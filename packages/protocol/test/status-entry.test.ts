import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessageStatus } from '../src/status.js';
import {
  decodeStatusEntry,
  encodeStatusEntry,
  groupOutcomes,
  MAX_STATUS_ERROR,
  type MessageOutcome,
  StatusField,
} from '../src/status-entry.js';
import { nonEmptyText } from './arbitraries.js';

const fieldsOf = (list: string[]) => {
  const f: Record<string, string> = {};
  for (let i = 0; i < list.length; i += 2) f[list[i]!] = list[i + 1]!;
  return f;
};

const outcomeArb: fc.Arbitrary<MessageOutcome> = fc.record(
  {
    id: nonEmptyText(40),
    status: fc.constantFrom(...Object.values(MessageStatus)),
    attempt: fc.integer({ min: 0, max: 5 }),
    error: fc.constantFrom('boom', 'unrouted', 'x'.repeat(MAX_STATUS_ERROR + 10)),
  },
  { requiredKeys: ['id', 'status', 'attempt'] },
);

describe('status entries (worker -> persister)', () => {
  it('one entry per distinct outcome of a job; every id is read back with its outcome', () => {
    fc.assert(
      fc.property(fc.array(outcomeArb, { maxLength: 60 }), (outcomes) => {
        const entries = groupOutcomes(outcomes);
        const keys = new Set(outcomes.map((o) => `${o.status}|${o.attempt}|${o.error ?? ''}`));
        expect(entries.length).toBe(keys.size);
        const back = entries.flatMap((e) => {
          const d = decodeStatusEntry(fieldsOf(encodeStatusEntry(e)));
          expect(d).not.toBeNull();
          return d!.ids.map((id) => ({ id, status: d!.status, attempt: d!.attempt, error: d!.error }));
        });
        const sortKey = (o: { id: string; status: string; attempt: number }) =>
          `${o.id}|${o.status}|${o.attempt}`;
        const expected = outcomes.map((o) => ({
          id: o.id,
          status: o.status,
          attempt: o.attempt,
          error: o.error?.slice(0, MAX_STATUS_ERROR),
        }));
        expect(back.sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1))).toEqual(
          expected.sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1)),
        );
      }),
    );
  });

  it('a whole job that completed is one entry', () => {
    const entries = groupOutcomes(
      Array.from({ length: 100 }, (_, i) => ({
        id: `m-${i}`,
        status: MessageStatus.COMPLETED,
        attempt: 0,
        at: i,
      })),
    );
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ status: 'COMPLETED', attempt: 0, at: 99 });
    expect(entries[0]!.ids).toHaveLength(100);
  });

  it('rejects malformed entries, whatever their fields hold', () => {
    const bad: Array<Record<string, string>> = [
      { [StatusField.status]: 'COMPLETED' },
      { [StatusField.id]: 'm1', [StatusField.status]: 'WAT' },
      { [StatusField.id]: 'm1', [StatusField.status]: 'COMPLETED', [StatusField.attempt]: '-1' },
      { [StatusField.ids]: '["a", 1]', [StatusField.status]: 'COMPLETED' },
      { [StatusField.ids]: '[]', [StatusField.status]: 'COMPLETED' },
      { [StatusField.ids]: '{"a":1}', [StatusField.status]: 'COMPLETED' },
      { [StatusField.ids]: '[""]', [StatusField.status]: 'COMPLETED' },
      { [StatusField.ids]: 'not json', [StatusField.status]: 'COMPLETED' },
    ];
    for (const f of bad) expect(decodeStatusEntry(f)).toBeNull();
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...Object.values(StatusField), 'zz'), fc.string({ unit: 'binary' })),
        (fields) => {
          const d = decodeStatusEntry(fields);
          if (d) {
            expect(d.ids.length).toBeGreaterThan(0);
            expect(Object.values(MessageStatus)).toContain(d.status);
            expect(Number.isInteger(d.attempt) && d.attempt >= 0).toBe(true);
          }
        },
      ),
    );
  });
});
