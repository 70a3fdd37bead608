import { describe, expect, it } from 'vitest';
import { newGatewayId, newMessageId } from '../src/ids.js';

const UUID7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('message ids', () => {
  it('are UUIDv7-shaped, carry the timestamp and sort by time', () => {
    const t = 1_764_201_600_123;
    const id = newMessageId(t);
    expect(id).toMatch(UUID7);
    expect(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(t);
    expect(newMessageId(t + 1) > newMessageId(t)).toBe(true);
  });

  it('are unique across many draws', () => {
    const ids = new Set(Array.from({ length: 100_000 }, () => newMessageId()));
    expect(ids.size).toBe(100_000);
    for (const id of [...ids].slice(0, 1000)) expect(id).toMatch(UUID7);
  });
});

describe('gateway ids', () => {
  it('keep only safe characters (never the reply-address separator) and differ per call', () => {
    const id = newGatewayId('a|b c', 42);
    expect(id).toMatch(/^gw-a_b_c-42-[0-9a-f]{6}$/);
    expect(newGatewayId('h', 1)).not.toBe(newGatewayId('h', 1));
  });
});
