import { deflateSync } from 'node:zlib';
import { ErrorCode } from '@fleet/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { benchPayload, dueByTime, type LoadProgress, runLoad } from '../src/index.js';
import { FakeGateway } from './peer.js';

let gw: FakeGateway;
afterEach(async () => {
  await gw?.close();
});

describe('runLoad', () => {
  it('keeps the window full on every connection and reports acked/s and latency', async () => {
    gw = await FakeGateway.start({ maxInFlight: 50 });
    const progress: LoadProgress[] = [];
    const res = await runLoad({
      host: '127.0.0.1',
      port: gw.port,
      connections: 3,
      window: 100,
      size: 64,
      durationS: 0.6,
      progressIntervalMs: 200,
      onProgress: (p) => progress.push(p),
    });
    expect(res.window).toBe(50);
    expect(res.acked).toBeGreaterThan(100);
    expect(res.errors).toBe(0);
    expect(res.ackedPerS).toBeGreaterThan(0);
    expect(res.latencyMs.p99).toBeGreaterThanOrEqual(res.latencyMs.p50);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(gw.maxOutstanding).toBeLessThanOrEqual(50);
    // Every frame was a valid PUBLISH with a fresh id and the requested payload size.
    const ids = new Set(gw.received.map((r) => r.env.id));
    expect(ids.size).toBe(gw.received.length);
    expect(gw.received.every((r) => r.env.payload.length === 64 && r.env.topic === 'bench.load')).toBe(true);
    expect(gw.conns).toHaveLength(3);
    // The payload is benchPayload's: the same bytes every run.
    expect(Buffer.compare(gw.received[0]!.env.payload, benchPayload(64))).toBe(0);
  });

  it('payloads do not compress (Postgres would store a compressible one in a few bytes) and are the same every run', () => {
    const p = benchPayload(8192);
    expect(deflateSync(p).length).toBeGreaterThanOrEqual(p.length);
    expect(Buffer.compare(benchPayload(8192), p)).toBe(0);
    expect(Buffer.compare(benchPayload(100), p.subarray(0, 100))).toBe(0);
  });

  it('open loop: sends on the schedule, never ahead of it, whatever the ACKs do', async () => {
    gw = await FakeGateway.start({ maxInFlight: 1000 });
    const res = await runLoad({
      host: '127.0.0.1',
      port: gw.port,
      connections: 2,
      window: 1000,
      size: 16,
      durationS: 1,
      rate: 2000,
      rampS: 0.5,
    });
    // Due after 1 s with a 0.5 s ramp: 2000 * (1 - 0.25) = 1500; timers run a little late, never early.
    expect(res.sent).toBeLessThanOrEqual(dueByTime(2000, 0.5, res.durationS));
    expect(res.sent).toBeGreaterThan(1000);
    expect(res.errors).toBe(0);
  });

  it('dueByTime climbs quadratically over the ramp, then linearly at the rate', () => {
    expect(dueByTime(1000, 2, 0)).toBe(0);
    expect(dueByTime(1000, 2, 1)).toBe(250);
    expect(dueByTime(1000, 2, 2)).toBe(1000);
    expect(dueByTime(1000, 2, 3)).toBe(2000);
    expect(dueByTime(1000, 0, 1.5)).toBe(1500);
  });

  it('counts ERROR answers by code', async () => {
    gw = await FakeGateway.start({ onPublish: () => ({ code: 12, message: 'overloaded' }) });
    const res = await runLoad({
      host: '127.0.0.1',
      port: gw.port,
      connections: 1,
      window: 10,
      size: 10,
      durationS: 0.2,
      deliveryTimeoutMs: 0, // no retries: every refusal is an error
    });
    expect(res.acked).toBe(0);
    expect(res.errors).toBeGreaterThan(0);
    expect(res.errorsByCode.overloaded).toBe(res.errors);
  });

  // Mutation tried: retryLater returning false: the transient refusals came back as errors, no retries.
  it('retries UNAVAILABLE / OVERLOADED with the same id and counts retries, not errors', async () => {
    const refused = new Set<string>();
    gw = await FakeGateway.start({
      onPublish: (_f, env) => {
        // Each message is refused once, then ACKed when it comes back with the same id.
        if (refused.has(env.id)) return 'ack';
        refused.add(env.id);
        return { code: refused.size % 2 ? ErrorCode.UNAVAILABLE : ErrorCode.OVERLOADED, message: 'later' };
      },
    });
    const res = await runLoad({
      host: '127.0.0.1',
      port: gw.port,
      connections: 1,
      window: 5,
      size: 10,
      durationS: 1,
    });
    expect(res.errors).toBe(0);
    expect(res.retries).toBeGreaterThan(0);
    expect(res.acked).toBeGreaterThan(0);
    // Every ACKed message had been refused once under the same id: the re-send kept it.
    const ids = gw.received.map((r) => r.env.id);
    const counts = new Map<string, number>();
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect(res.retries).toBe([...counts.values()].filter((n) => n === 2).length);
  });

  it('rejects with UNAVAILABLE when the gateway cannot be reached', async () => {
    gw = await FakeGateway.start();
    const port = gw.port;
    await gw.close();
    await expect(
      runLoad({ host: '127.0.0.1', port, connections: 2, window: 1, size: 1, durationS: 0.1 }),
    ).rejects.toMatchObject({ code: 11, codeName: 'unavailable' });
  });
});
