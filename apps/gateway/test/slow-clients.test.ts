import { ErrorCode, encodeEnvelope, encodeFrame, encodePublish, FrameType } from '@fleet/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { envelope, gatewayConfig, RawClient, sleep, useGateway, waitUntil } from './helpers.js';

// Session limits an unauthenticated or slow client cannot stretch (docs/protocol.md section 6, "Session
// limits"): deadlines count progress (complete frames), not bytes; the first frame is small; the bytes all
// connections hold in unfinished frames are bounded, and fresh clients keep being served.

const TRICKLE_MS = 100;
/** Generous: the box is shared; a deadline of ~1 s must have fired well within this. */
const CLOSE_WITHIN_MS = 15_000;

/** Writes `bytes` one byte every TRICKLE_MS until they run out or the socket closes. */
function trickle(c: RawClient, bytes: Buffer): void {
  let i = 0;
  const timer = setInterval(() => {
    if (c.isClosed || i >= bytes.length) clearInterval(timer);
    else c.write(bytes.subarray(i, ++i));
  }, TRICKLE_MS);
}

async function closedWith(c: RawClient, code: number, text?: RegExp): Promise<void> {
  const closed = await Promise.race([c.closed.then(() => true), sleep(CLOSE_WITHIN_MS).then(() => false)]);
  expect(closed, 'closed by the gateway').toBe(true);
  const err = c.frames.find((f) => f.type === FrameType.ERROR);
  expect(err).toMatchObject({ corr: 0, code });
  if (text && err?.type === FrameType.ERROR) expect(err.message).toMatch(text);
}

function bigPublish(corr: number, payloadBytes: number): Buffer {
  return encodePublish(corr, 0, undefined, encodeEnvelope(envelope({ payload: Buffer.alloc(payloadBytes) })));
}

describe('slow and unauthenticated clients', () => {
  const MAX_CONNECTIONS = 12;
  const BOUND = 256 * 1024;
  const MAX_FRAME = 128 * 1024;
  const cfg = gatewayConfig({
    network: { max_connections: MAX_CONNECTIONS, timeout_ms: 60_000, max_frame_bytes: MAX_FRAME },
    gateway: {
      handshake_timeout_ms: 1_000,
      frame_timeout_ms: 1_000,
      max_hello_bytes: 1024,
      max_partial_bytes: BOUND,
    },
  });
  const gw = useGateway(cfg);
  const clients: RawClient[] = [];
  const track = (c: RawClient) => {
    clients.push(c);
    return c;
  };

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await waitUntil(() => gw.stats().connections === 0, 10_000);
  });

  // Mutation tried: handshake deadline check removed from Sessions.sweep (session.ts): the clients are closed later by the
  // frame deadline instead, not with "no HELLO": fails.
  it('slowloris before HELLO fills max_connections only until the handshake deadline', async () => {
    const hello = encodeFrame({ type: FrameType.HELLO, corr: 1, clientName: 'slow' });
    const slow: RawClient[] = [];
    for (let i = 0; i < MAX_CONNECTIONS; i++) {
      const c = track(await RawClient.connect(gw.port));
      trickle(c, hello);
      slow.push(c);
    }
    expect(await waitUntil(() => gw.stats().connections === MAX_CONNECTIONS)).toBe(true);
    for (const c of slow) await closedWith(c, ErrorCode.TIMEOUT, /no HELLO/);
    // The gateway sees each close a moment after the client does.
    expect(await waitUntil(() => gw.stats().connections === 0, 10_000)).toBe(true);
    const fresh = track(await RawClient.open(gw.port));
    expect((await fresh.publish(envelope())).type).toBe(FrameType.ACK);
  });

  // Mutation tried: partialSince refreshed on every chunk (bytes, not progress): the trickling client is
  // never closed: fails.
  it('after HELLO, a frame trickled byte by byte is closed at frame_timeout_ms', async () => {
    const c = track(await RawClient.open(gw.port));
    trickle(c, bigPublish(c.corr(), 1000));
    await closedWith(c, ErrorCode.TIMEOUT, /frame unfinished/);
    expect(gw.stats().partialBytes).toBe(0);
  });

  // Mutation tried: FrameDecoder built without firstFrameMaxBytes: the large HELLO is buffered: fails.
  it('a first frame over gateway.max_hello_bytes is refused from its header', async () => {
    const c = track(await RawClient.connect(gw.port));
    c.write(encodeFrame({ type: FrameType.HELLO, corr: 1, clientName: 'x'.repeat(2048) }).subarray(0, 12));
    await closedWith(c, ErrorCode.FRAME_TOO_LARGE);
  });

  it('HELLO and a large PUBLISH in one write: the limit is for the first frame only', async () => {
    const c = track(await RawClient.connect(gw.port));
    const corr = 77;
    c.write(
      Buffer.concat([
        encodeFrame({ type: FrameType.HELLO, corr: 1, clientName: 'x' }),
        bigPublish(corr, 64_000),
      ]),
    );
    expect((await c.answer(corr)).type).toBe(FrameType.ACK);
  });

  it('a partial-HELLO flood holds at most max_hello_bytes per connection, and only until the deadline', async () => {
    const hello = encodeFrame({ type: FrameType.HELLO, corr: 1, clientName: 'x'.repeat(1000) });
    const flood: RawClient[] = [];
    for (let i = 0; i < MAX_CONNECTIONS - 1; i++) {
      const c = track(await RawClient.connect(gw.port));
      c.write(hello.subarray(0, hello.length - 1)); // all but the last byte
      flood.push(c);
    }
    expect(await waitUntil(() => gw.stats().partialBytes === flood.length * (hello.length - 1))).toBe(true);
    expect(gw.stats().peakPartialBytes).toBeLessThanOrEqual(BOUND);
    const fresh = track(await RawClient.open(gw.port)); // served during the flood
    expect((await fresh.publish(envelope())).type).toBe(FrameType.ACK);
    for (const c of flood) await closedWith(c, ErrorCode.TIMEOUT);
    expect(await waitUntil(() => gw.stats().partialBytes === 0)).toBe(true);
  });

  // Mutation tried: shedPartials not called from trackPartial: partialBytes grows to 5 x 100 KiB, the old
  // connections get no OVERLOADED: fails.
  it('over gateway.max_partial_bytes the oldest unfinished frames are closed; fresh clients are served', async () => {
    const HELD = 100 * 1024;
    const holders: RawClient[] = [];
    for (let i = 0; i < 5; i++) {
      const c = track(await RawClient.open(gw.port));
      c.write(bigPublish(c.corr(), 120 * 1024).subarray(0, HELD));
      holders.push(c);
      // One at a time, so "oldest" is well defined.
      expect(await waitUntil(() => gw.stats().partialBytes >= HELD || c.isClosed)).toBe(true);
    }
    await closedWith(holders[0]!, ErrorCode.OVERLOADED, /unfinished frames/);
    await closedWith(holders[1]!, ErrorCode.OVERLOADED);
    const s = gw.stats();
    expect(s.partialBytes).toBeLessThanOrEqual(BOUND);
    // Checked when a chunk arrives: the total can pass the bound by at most one chunk of one frame.
    expect(s.peakPartialBytes).toBeLessThanOrEqual(BOUND + MAX_FRAME);
    expect(s.partialShed).toBeGreaterThanOrEqual(2);
    expect(holders[4]!.isClosed).toBe(false);
    const fresh = track(await RawClient.open(gw.port));
    expect((await fresh.publish(envelope({ payload: Buffer.alloc(100 * 1024) }))).type).toBe(FrameType.ACK);
  });
});
