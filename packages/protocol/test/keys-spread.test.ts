import keySlot from 'cluster-key-slot';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CLUSTER_SLOTS, FleetKeys } from '../src/index.js';

// The slot ranges `redis-cli --cluster create` gives `masters` masters (contiguous, equal).
function masterOf(slot: number, masters: number): number {
  return Math.min(masters - 1, Math.floor((slot * masters) / CLUSTER_SLOTS));
}
const prefix = fc.stringMatching(/^[A-Za-z0-9_:.-]{1,24}$/);

describe('shard tags spread over the masters', () => {
  // Mutation tried: spreadTag returning `{<prefix>:s<n>}` always: the 8-shard case failed (4/2/2 for most
  // prefixes, and empty masters for 3 shards).
  it.each([
    [3, 3],
    [8, 3],
    [9, 3],
    [16, 3],
    [32, 3],
    [8, 4],
    [12, 6],
  ])('%i shards on %i masters: each master gets floor or ceil of shards/masters', (shards, masters) => {
    fc.assert(
      fc.property(prefix, (p) => {
        const keys = new FleetKeys(p, shards);
        const count = new Array(masters).fill(0);
        for (const n of keys.shardList()) count[masterOf(keys.shardSlot(n), masters)]++;
        expect(Math.max(...count) - Math.min(...count)).toBeLessThanOrEqual(1);
      }),
      { numRuns: 50 },
    );
  });

  it('every key of a shard hashes to its tag slot; tags are distinct, stable and carry the prefix', () => {
    fc.assert(
      fc.property(prefix, fc.integer({ min: 1, max: 64 }), (p, shards) => {
        const keys = new FleetKeys(p, shards);
        const again = new FleetKeys(p, shards);
        const tags = new Set<string>();
        for (const n of keys.shardList()) {
          const tag = keys.shardTag(n);
          expect(tag).toBe(again.shardTag(n));
          expect(tag.startsWith(`{${p}:s${n}`)).toBe(true);
          tags.add(tag);
          const slot = keys.shardSlot(n);
          for (const k of [keys.ingestStream(n), keys.statusStream(n), `${keys.bullPrefix(n)}:messages:wait`])
            expect(keySlot(k)).toBe(slot);
          expect(keys.shardOfBullPrefix(keys.bullPrefix(n))).toBe(n);
        }
        expect(tags.size).toBe(shards);
      }),
      { numRuns: 100 },
    );
  });
});
