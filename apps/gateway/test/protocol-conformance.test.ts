import { readFileSync } from 'node:fs';
import {
  DeadReason,
  ErrorCode,
  encodeEnvelope,
  encodeFrame,
  encodePublish,
  encodeRequest,
  FRAME_HEADER_BYTES,
  FrameType,
} from '@fleet/protocol';
import { describe, expect, it } from 'vitest';
import { SESSION_SWEEP_MS } from '../src/gateway.js';
import { TIMER_TICK_MS } from '../src/waiters.js';
import { envelope, gatewayConfig, RawClient, useGateway, waitUntil } from './helpers.js';

// The gateway does what docs/protocol.md says on each point an outside tester found in disagreement
// (issue 13 item 5). OVERLOADED on accept is covered by max-connections.test.ts, TIMEOUT with corr 0
// closing by idle-timeout.test.ts, pipelined answers before a closing error by answers-before-close.test.ts.
const doc = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');

describe('gateway and docs/protocol.md agree', () => {
  const REQUEST_TIMEOUT_MS = 400;
  const cfg = gatewayConfig({ requests: { max_timeout_ms: REQUEST_TIMEOUT_MS } });
  const gw = useGateway(cfg);

  // Mutation tried: flags checked before the type in parseFrame (the old order): MALFORMED_FRAME: fails.
  it('an unknown frame type with non-zero flags gets UNKNOWN_FRAME_TYPE and the connection stays', async () => {
    const c = await RawClient.open(gw.port);
    const f = Buffer.alloc(FRAME_HEADER_BYTES);
    f.writeUInt32BE(8, 0);
    f[4] = 1;
    f[5] = 200;
    f.writeUInt16BE(0x8001, 6);
    f.writeUInt32BE(4242, 8);
    c.write(f);
    expect(await c.answer(4242)).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.UNKNOWN_FRAME_TYPE });
    expect((await c.publish(envelope())).type).toBe(FrameType.ACK);
    await c.close();
  });

  // Mutation tried: the PONG case removed from Sessions.onOtherFrame (NOT_SUPPORTED again): fails.
  it('a PONG from the client is accepted without an answer', async () => {
    const c = await RawClient.open(gw.port);
    c.write(encodeFrame({ type: FrameType.PONG, corr: 5 }));
    c.write(encodeFrame({ type: FrameType.PING, corr: 6 }));
    expect(await c.answer(6)).toMatchObject({ type: FrameType.PONG });
    expect(c.frames.filter((f) => f.corr === 5)).toEqual([]);
    expect((await c.publish(envelope())).type).toBe(FrameType.ACK);
    await c.close();
  });

  // Mutations tried: the corr-0 check in onData (PUBLISH) / onRequest (REQUEST) removed: the frame is
  // appended and the connection stays open: each case fails.
  it.each([
    ['PUBLISH', () => encodePublish(0, 0, undefined, encodeEnvelope(envelope()))],
    ['REQUEST', () => encodeRequest(0, 0, undefined, encodeEnvelope(envelope()))],
  ])('a %s with corr 0 gets MALFORMED_FRAME (corr 0) and a close, and is not appended', async (_n, frame) => {
    const c = await RawClient.open(gw.port);
    const acked = gw.stats().acked;
    c.write(frame());
    await c.closed;
    expect(c.frames.slice(1)).toMatchObject([
      { type: FrameType.ERROR, corr: 0, code: ErrorCode.MALFORMED_FRAME },
    ]);
    expect(gw.stats().acked).toBe(acked);
    expect(gw.stats().pendingRequests).toBe(0);
  });

  // Mutation tried: the pending-REQUEST corr check in onPublish removed: the PUBLISH is ACKed: fails.
  it("a PUBLISH reusing a pending REQUEST's corr is refused; the REQUEST still gets its one answer", async () => {
    const c = await RawClient.open(gw.port);
    const corr = c.corr();
    c.write(encodeRequest(corr, REQUEST_TIMEOUT_MS, undefined, encodeEnvelope(envelope())));
    expect(await waitUntil(() => gw.stats().pendingRequests === 1)).toBe(true);
    c.write(encodePublish(corr, 0, undefined, encodeEnvelope(envelope())));
    expect(await c.next((f) => f.corr === corr)).toMatchObject({
      type: FrameType.ERROR,
      code: ErrorCode.INVALID_ENVELOPE,
    });
    // The REQUEST (no worker here) ends with TIMEOUT; then the corr is free again.
    expect(await waitUntil(() => c.frames.filter((f) => f.corr === corr).length === 2, 10_000)).toBe(true);
    expect(c.frames.filter((f) => f.corr === corr)[1]).toMatchObject({ code: ErrorCode.TIMEOUT });
    expect(c.isClosed).toBe(false); // TIMEOUT with a frame's corr does not close
    expect((await c.publish(envelope())).type).toBe(FrameType.ACK);
    await c.close();
  });

  it('documents the deadline tick, the session sweep and every HANDLER_ERROR text a worker sends', () => {
    const text = doc.replace(/\s+/g, ' ');
    expect(text).toContain(`on a ${TIMER_TICK_MS} ms tick`);
    expect(text).toContain(`checks these deadlines every ${SESSION_SWEEP_MS} ms`);
    for (const reason of Object.values(DeadReason))
      expect(doc).toMatch(new RegExp(`^\\| \`${reason}\` `, 'm'));
    expect(doc).not.toMatch(/Requests default to envelope type/);
    expect(doc).toContain('error code (section 9)');
    expect(doc).toContain('Closing errors are sent before the close (section 9)');
  });
});
