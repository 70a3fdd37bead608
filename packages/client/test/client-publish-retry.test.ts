import { ErrorCode } from '@fleet/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type FleetClient, type RetryEvent } from '../src/index.js';
import { FakeGateway } from './peer.js';

let gw: FakeGateway;
let client: FleetClient | undefined;
afterEach(async () => {
  client?.destroy();
  client = undefined;
  await gw?.close();
});

const quick = { minDelayMs: 5, maxDelayMs: 20 };

// Publishes answered UNAVAILABLE / OVERLOADED are retried (same bytes, same id) with backoff until the
// per-publish deadline; other codes are not. Mutations tried, each failing this file: retryLater returning
// false (no retries), ignoring the deadline (retries forever: the
// deadline test then times out), and retrying INVALID_ENVELOPE too.
describe('publish retries', () => {
  it('retries UNAVAILABLE and OVERLOADED with the same frame bytes until ACKed', async () => {
    const refusals = [ErrorCode.UNAVAILABLE, ErrorCode.OVERLOADED, ErrorCode.UNAVAILABLE];
    gw = await FakeGateway.start({
      onPublish: () => {
        const code = refusals.shift();
        return code === undefined ? 'ack' : { code, message: 'try later' };
      },
    });
    client = await connect({
      host: '127.0.0.1',
      port: gw.port,
      publishRetry: { deliveryTimeoutMs: 60_000, ...quick },
    });
    const events: RetryEvent[] = [];
    client.on('retry', (e: RetryEvent) => events.push(e));
    const r = await client.publish('orders.x', 'p', { id: 'keep-me' });
    expect(r.id).toBe('keep-me');
    expect(gw.received).toHaveLength(4);
    const frames = new Set(gw.received.map((x) => x.frame.toString('hex')));
    expect(frames.size).toBe(1); // byte for byte the same PUBLISH, id included
    expect(events.map((e) => [e.id, e.code, e.attempt])).toEqual([
      ['keep-me', ErrorCode.UNAVAILABLE, 1],
      ['keep-me', ErrorCode.OVERLOADED, 2],
      ['keep-me', ErrorCode.UNAVAILABLE, 3],
    ]);
    expect(client.publishRetries).toBe(3);
  });

  it('gives up with the last error once the delivery deadline has passed', async () => {
    gw = await FakeGateway.start({
      onPublish: () => ({ code: ErrorCode.UNAVAILABLE, message: 'redis down' }),
    });
    client = await connect({
      host: '127.0.0.1',
      port: gw.port,
      publishRetry: { deliveryTimeoutMs: 300, ...quick },
    });
    const err = await client.publish('orders.x', 'p').catch((e) => e);
    expect(err).toMatchObject({ code: ErrorCode.UNAVAILABLE });
    expect(err.message).toMatch(/^redis down \(after \d+ retries\)$/);
    expect(gw.received.length).toBeGreaterThan(1);
  });

  it('does not retry permanent refusals', async () => {
    gw = await FakeGateway.start({ onPublish: () => ({ code: ErrorCode.INVALID_ENVELOPE, message: 'no' }) });
    client = await connect({
      host: '127.0.0.1',
      port: gw.port,
      publishRetry: { deliveryTimeoutMs: 60_000, ...quick },
    });
    await expect(client.publish('orders.x', 'p')).rejects.toMatchObject({ code: ErrorCode.INVALID_ENVELOPE });
    expect(gw.received).toHaveLength(1);
    expect(client.publishRetries).toBe(0);
  });
});
