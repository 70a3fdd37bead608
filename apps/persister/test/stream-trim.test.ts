import { describe, expect, it } from 'vitest';
import { safeMinId } from '../src/redis-streams.js';

describe('ingest stream trimming', () => {
  it('MINID is the oldest pending entry, else just past the last delivered', () => {
    expect(safeMinId({ lastDeliveredId: '0-0', pending: 0, lag: 0, oldestPendingId: null })).toBeNull();
    expect(safeMinId({ lastDeliveredId: '10-3', pending: 0, lag: 0, oldestPendingId: null })).toBe('10-4');
    expect(safeMinId({ lastDeliveredId: '10-3', pending: 2, lag: 0, oldestPendingId: '7-0' })).toBe('7-0');
  });
});
