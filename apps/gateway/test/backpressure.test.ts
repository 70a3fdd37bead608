import { encodeEnvelope, encodePublish, FleetKeys, FrameType } from '@fleet/protocol';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { ingestMessages } from '../../../test/helpers/ingest.js';
import type { Gateway } from '../src/index.js';
import {
  cleanupRedisPrefix,
  envelope,
  gatewayConfig,
  RawClient,
  redisUrl,
  sleep,
  waitUntil,
  withGateway,
} from './helpers.js';

const FLOOD = 30_000;
/** One socket read (64 KiB) holds at most this many of the flood's frames: what may be read past a limit. */
const ONE_CHUNK = Math.ceil(65_536 / 60);

function encodeEncoded(): Buffer {
  return encodeEnvelope(envelope({ id: 'x', payload: Buffer.alloc(10) }));
}

/** Writes FLOOD publishes at once, ignoring the window, and waits for every answer. */
async function flood(gw: Gateway): Promise<number> {
  const c = await RawClient.open(gw.port);
  const frames: Buffer[] = [];
  const env = encodeEnvelope(envelope({ id: 'x', payload: Buffer.alloc(10) }));
  for (let i = 0; i < FLOOD; i++) frames.push(encodePublish(c.corr(), 0, undefined, env));
  const last = c.answer(FLOOD + 1);
  c.write(Buffer.concat(frames));
  await last;
  const acks = c.frames.filter((f) => f.type === FrameType.ACK).length;
  await c.close();
  return acks;
}

// Past the per-connection window or the process-wide bound the gateway stops reading; nothing is lost.
describe('backpressure', () => {
  let gw: Gateway | undefined;
  let prefix = '';
  afterEach(async () => {
    await gw?.close();
    await cleanupRedisPrefix(prefix);
  });

  it('bounds a flooding client by thread_pools.io.queue_size', async () => {
    const cfg = gatewayConfig({
      thread_pools: { io: { queue_size: 64 } },
      network: { max_in_flight: 1_000_000 },
    });
    prefix = cfg.redis.key_prefix;
    gw = await withGateway(cfg);
    const acks = await flood(gw);
    expect(acks).toBe(FLOOD);
    expect(gw.stats().peakInFlight).toBeLessThanOrEqual(64 + ONE_CHUNK);
    expect(gw.stats().pausedConnections).toBe(0);
    expect(gw.stats().inFlight).toBe(0);
    const redis = new Redis(redisUrl());
    expect(await ingestMessages(redis, new FleetKeys(prefix, 1).ingestStream(0))).toHaveLength(FLOOD);
    redis.disconnect();
  });

  it('bounds a flooding client by its max_in_flight window', async () => {
    const cfg = gatewayConfig({ network: { max_in_flight: 16 } });
    prefix = cfg.redis.key_prefix;
    gw = await withGateway(cfg);
    const acks = await flood(gw);
    expect(acks).toBe(FLOOD);
    expect(gw.stats().peakInFlight).toBeLessThanOrEqual(16 + ONE_CHUNK);
  });

  it('stops reading a client that does not read its ACKs', async () => {
    const cfg = gatewayConfig({ network: { max_in_flight: 1_024 } });
    prefix = cfg.redis.key_prefix;
    gw = await withGateway(cfg);
    const c = await RawClient.open(gw.port);
    c.socket.pause(); // never reads: ACKs fill the kernel buffers, then the gateway's socket buffer
    const env = encodeEncoded();
    const total = 200_000;
    const frames: Buffer[] = [];
    for (let i = 0; i < total; i++) frames.push(encodePublish(c.corr(), 0, undefined, env));
    c.write(Buffer.concat(frames));
    // The gateway answers until the socket's write buffer is full, then pauses reading that socket.
    expect(
      await waitUntil(() => gw!.stats().pausedConnections === 1 && gw!.stats().inFlight === 0, 20_000),
    ).toBe(true);
    const stalledAt = gw.stats().acked;
    await sleep(300);
    expect(gw.stats().acked).toBe(stalledAt);
    expect(stalledAt).toBeLessThan(total);
    expect(gw.stats().peakInFlight).toBeLessThanOrEqual(1_024 + ONE_CHUNK);
    // Reading again drains everything.
    const last = c.answer(total + 1);
    c.socket.resume();
    await last;
    expect(c.frames.filter((f) => f.type === FrameType.ACK).length).toBe(total);
    await c.close();
  }, 60_000);

  it('holds 1,000 idle connections in bounded memory and still serves', async () => {
    const cfg = gatewayConfig();
    prefix = cfg.redis.key_prefix;
    gw = await withGateway(cfg);
    // vitest.config.ts runs test workers with --expose-gc: both heap readings are after a full collection,
    // so the difference is what the connections hold, not garbage a busy machine has not collected yet.
    const gc = globalThis.gc;
    if (!gc) throw new Error('this test needs --expose-gc (vitest.config.ts execArgv)');
    gc();
    const before = process.memoryUsage().heapUsed;
    const clients: RawClient[] = [];
    for (let i = 0; i < 1_000; i++) clients.push(await RawClient.open(gw.port));
    expect(await waitUntil(() => gw!.stats().connections === 1_000)).toBe(true);
    gc();
    // Clients and server share this heap: well under 50 KiB per connection pair.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(50 * 1024 * 1_000);
    expect((await clients[500]!.publish(envelope())).type).toBe(FrameType.ACK);
    await Promise.all(clients.map((c) => c.close()));
  });
});
