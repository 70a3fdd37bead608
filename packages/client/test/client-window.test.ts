import { afterEach, describe, expect, it } from 'vitest';
import { connect, type FleetClient } from '../src/index.js';
import { FakeGateway } from './peer.js';

let gw: FakeGateway;
let client: FleetClient;
let timer: NodeJS.Timeout;
afterEach(async () => {
  clearInterval(timer);
  client?.destroy();
  await gw?.close();
});

/** A peer that answers what it holds every few ms, so the client's window is what limits pipelining. */
async function slowPeer(maxInFlight: number): Promise<FakeGateway> {
  const g = await FakeGateway.start({ maxInFlight, onPublish: () => 'hold' });
  timer = setInterval(() => {
    for (const c of g.conns) c.ackHeld('fifo');
  }, 3);
  return g;
}

describe('client window', () => {
  it("is capped by the gateway's max_in_flight", async () => {
    gw = await slowPeer(10);
    client = await connect({ host: '127.0.0.1', port: gw.port, window: 100 });
    expect(client.window).toBe(10);
    await Promise.all(Array.from({ length: 300 }, (_, i) => client.publish('t', String(i))));
    expect(gw.received).toHaveLength(300);
    expect(gw.maxOutstanding).toBe(10);
  });

  it("is the client's own window when smaller; publish waits for room", async () => {
    gw = await slowPeer(1000);
    client = await connect({ host: '127.0.0.1', port: gw.port, window: 5 });
    expect(client.window).toBe(5);
    const all = Promise.all(Array.from({ length: 100 }, (_, i) => client.publish('t', String(i))));
    expect(client.outstanding).toBe(100);
    await all;
    expect(gw.maxOutstanding).toBe(5);
    expect(client.outstanding).toBe(0);
    // Order of sending is order of publishing.
    expect(gw.received.map((r) => Buffer.from(r.env.payload).toString())).toEqual(
      Array.from({ length: 100 }, (_, i) => String(i)),
    );
  });
});
