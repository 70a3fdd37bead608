import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextPressure, type PressureBounds, type PressureReason, parseMemoryInfo } from '../src/index.js';

const MAXMEMORY = 32 * 1024 * 1024;
const bounds: PressureBounds = { memoryHigh: 0.75, memoryLow: 0.65, backlogHigh: 1_000, backlogLow: 500 };

/** Runs the state machine over a series of samples; returns every state it went through. */
function run(
  samples: Array<{ used: number; max: number; backlog: number }>,
  b = bounds,
): Array<PressureReason | null> {
  let state: PressureReason | null = null;
  return samples.map((s) => {
    state = nextPressure(state, { usedMemory: s.used, maxMemory: s.max, backlogMessages: s.backlog }, b);
    return state;
  });
}

describe('pressure hysteresis (high and low mark)', () => {
  it('turns overloaded at the high mark and back only below the low mark', () => {
    const at = (ratio: number) => ({ used: Math.round(ratio * MAXMEMORY), max: MAXMEMORY, backlog: 0 });
    expect(run([at(0.5), at(0.74), at(0.75), at(0.7), at(0.66), at(0.64), at(0.7)])).toEqual([
      null,
      null,
      'memory',
      'memory',
      'memory',
      null,
      null,
    ]);
  });

  it('uses the backlog marks only without a maxmemory', () => {
    expect(
      run([
        { used: 1e9, max: 0, backlog: 999 },
        { used: 1e9, max: 0, backlog: 1_000 },
      ]),
    ).toEqual([null, 'backlog']);
    expect(
      run(
        [
          { used: 1e9, max: 0, backlog: 600 },
          { used: 1e9, max: 0, backlog: 500 },
        ].map((s) => s),
      ),
    ).toEqual([null, null]);
    // With a maxmemory the backlog does not count: memory is the real limit.
    expect(run([{ used: 0, max: MAXMEMORY, backlog: 1e9 }])).toEqual([null]);
    // Bound 0 = none.
    expect(run([{ used: 0, max: 0, backlog: 1e9 }], { ...bounds, backlogHigh: 0 })).toEqual([null]);
  });

  it('never flaps: between the marks the state stays what it was (property)', () => {
    // Mutation tried: `current ? b.memoryLow : b.memoryHigh` -> `b.memoryHigh` (no hysteresis): this failed.
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1.2, noNaN: true }), { minLength: 1, maxLength: 50 }),
        (ratios) => {
          const states = run(
            ratios.map((r) => ({ used: Math.round(r * MAXMEMORY), max: MAXMEMORY, backlog: 0 })),
          );
          let prev: PressureReason | null = null;
          ratios.forEach((r, i) => {
            const used = Math.round(r * MAXMEMORY) / MAXMEMORY;
            if (used >= bounds.memoryHigh) expect(states[i]).toBe('memory');
            else if (used < bounds.memoryLow) expect(states[i]).toBeNull();
            else expect(states[i]).toBe(prev);
            prev = states[i]!;
          });
        },
      ),
    );
  });

  it('reads used_memory and maxmemory from INFO memory', () => {
    const info =
      '# Memory\r\nused_memory:1234\r\nused_memory_human:1.21K\r\nmaxmemory:33554432\r\nmaxmemory_human:32.00M\r\n';
    expect(parseMemoryInfo(info)).toEqual({ usedMemory: 1234, maxMemory: 33554432 });
    expect(() => parseMemoryInfo('# Memory\r\n')).toThrow(/used_memory/);
  });
});
