import { afterEach, describe, expect, it } from 'vitest';
import { connect, type FleetClient } from '../src/index.js';
import { FakeGateway } from './peer.js';

let gw: FakeGateway;
let client: FleetClient;
afterEach(async () => {
  client?.destroy();
  await gw?.close();
});

describe('client pipelining', () => {
  it('pipelines thousands of publishes and matches out-of-order ACKs by corr', async () => {
    const N = 3000;
    gw = await FakeGateway.start({
      onPublish: (_f, _e, conn) => {
        // Hold everything, then answer all of it in reverse order.
        if (conn.held.length === N - 1) setImmediate(() => conn.ackHeld('reverse'));
        return 'hold';
      },
    });
    client = await connect({ host: '127.0.0.1', port: gw.port, window: N });
    const ids = Array.from({ length: N }, (_, i) => `msg-${i}`);
    const results = await Promise.all(ids.map((id, i) => client.publish('orders.created', { i }, { id })));
    expect(results.map((r) => r.id)).toEqual(ids);
    // The peer's stream id ends with the corr it acked: each result belongs to its own frame.
    const corrById = new Map(gw.received.map((r) => [r.env.id, r.corr]));
    for (const r of results) expect(r.streamId.endsWith(`-${corrById.get(r.id)}`)).toBe(true);
    expect(gw.maxOutstanding).toBe(N);
    expect(gw.received.map((r) => JSON.parse(Buffer.from(r.env.payload).toString()).i)).toEqual(
      ids.map((_, i) => i),
    );
  });

  it('publishMany resolves in input order; envelope fields reach the peer', async () => {
    gw = await FakeGateway.start();
    client = await connect({ host: '127.0.0.1', port: gw.port, clientName: 'tester' });
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const res = await client.publishMany([
      { topic: 'a.b', payload: 'text', headers: { k: 'v' }, traceparent: tp, priority: 3, ttl: 5000 },
      { topic: 'a.c', payload: Buffer.from([1, 2, 3]), ack: 'durable', type: 'command', partitionKey: 'p1' },
    ]);
    expect(res).toHaveLength(2);
    const [a, b] = gw.received;
    expect(a!.env).toMatchObject({
      topic: 'a.b',
      headers: { k: 'v' },
      traceparent: tp,
      priority: 3,
      ttl: 5000,
    });
    expect(a!.env.source).toBe('tester');
    expect(Buffer.from(a!.env.payload).toString()).toBe('text');
    expect(a!.ackLevel).toBe(0);
    expect(b!.ackLevel).toBe(1);
    expect(b!.env.type).toBe('command');
    expect(a!.env.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('batches frames written in one tick into few socket writes', async () => {
    gw = await FakeGateway.start();
    client = await connect({ host: '127.0.0.1', port: gw.port, window: 5000 });
    let chunks = 0;
    gw.last.socket.on('data', () => chunks++);
    await Promise.all(Array.from({ length: 2000 }, (_, i) => client.publish('t', String(i))));
    expect(gw.received).toHaveLength(2000);
    expect(chunks).toBeLessThan(200); // one write per tick, split only by socket buffer sizes
  });
});
