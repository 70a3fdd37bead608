import {
  ErrorCode,
  encodeEnvelope,
  encodeFrame,
  encodePublish,
  encodeRequest,
  FRAME_HEADER_BYTES,
  FrameType,
} from '@fleet/protocol';
import { describe, expect, it } from 'vitest';
import { envelope, gatewayConfig, RawClient, useGateway } from './helpers.js';

// Every PUBLISH and REQUEST read before a connection-closing error gets its one answer, then the closing
// ERROR, then the close (docs/protocol.md section 6, item 6) — also when all of it came in one write.
// Mutation tried: endWithError sent the ERROR and ended the socket at once (no deferral while frames are in
// flight, the old behaviour): every case but the HELLO one fails (no answers before the close).
describe('answers before a closing error in the same read', () => {
  const REQUEST_TIMEOUT_MS = 300;
  const cfg = gatewayConfig({
    network: { max_frame_bytes: 64 * 1024 },
    requests: { max_timeout_ms: REQUEST_TIMEOUT_MS },
  });
  const gw = useGateway(cfg);

  function header(length: number, version: number, type: number): Buffer {
    const b = Buffer.alloc(FRAME_HEADER_BYTES);
    b.writeUInt32BE(length, 0);
    b[4] = version;
    b[5] = type;
    return b;
  }

  /** Writes `count` PUBLISHes and then `tail` in one write; returns their corrs. */
  function publishThen(c: RawClient, count: number, tail: Buffer): number[] {
    const corrs: number[] = [];
    const parts: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const corr = c.corr();
      corrs.push(corr);
      parts.push(encodePublish(corr, 0, undefined, encodeEnvelope(envelope())));
    }
    c.write(Buffer.concat([...parts, tail]));
    return corrs;
  }

  /** After the close: each corr answered exactly once by an ACK, and the closing ERROR last. */
  async function expectAckedThenClosed(c: RawClient, corrs: number[], code: number): Promise<void> {
    await c.closed;
    for (const corr of corrs) {
      const answers = c.frames.filter((f) => f.corr === corr);
      expect(
        answers.map((f) => f.type),
        `answers to corr ${corr}`,
      ).toEqual([FrameType.ACK]);
    }
    expect(c.frames.at(-1)).toMatchObject({ type: FrameType.ERROR, corr: 0, code });
    expect(c.frames.filter((f) => f.type === FrameType.ERROR)).toHaveLength(1);
  }

  it('50 PUBLISHes then a PING with a body: 50 ACKs, then MALFORMED_FRAME', async () => {
    const c = await RawClient.open(gw.port);
    const pingWithBody = Buffer.concat([header(9, 1, FrameType.PING), Buffer.from([0])]);
    const corrs = publishThen(c, 50, pingWithBody);
    await expectAckedThenClosed(c, corrs, ErrorCode.MALFORMED_FRAME);
  });

  it('5 PUBLISHes then a huge length: 5 ACKs, then FRAME_TOO_LARGE', async () => {
    const c = await RawClient.open(gw.port);
    const corrs = publishThen(c, 5, header(0x7fff_ffff, 1, FrameType.PUBLISH));
    await expectAckedThenClosed(c, corrs, ErrorCode.FRAME_TOO_LARGE);
  });

  it('5 PUBLISHes then a bad version: 5 ACKs, then UNSUPPORTED_VERSION', async () => {
    const c = await RawClient.open(gw.port);
    const corrs = publishThen(c, 5, header(8, 7, FrameType.PING));
    await expectAckedThenClosed(c, corrs, ErrorCode.UNSUPPORTED_VERSION);
  });

  it('a PUBLISH with corr 0 closes the connection after the answers before it, and is not ACKed', async () => {
    const c = await RawClient.open(gw.port);
    const zero = encodePublish(0, 0, undefined, encodeEnvelope(envelope()));
    const corrs = publishThen(c, 3, zero);
    await expectAckedThenClosed(c, corrs, ErrorCode.MALFORMED_FRAME);
    expect(c.frames.filter((f) => f.type === FrameType.ACK)).toHaveLength(3);
  });

  it('a REQUEST and a durable PUBLISH before the fatal frame are answered (TIMEOUT here) first', async () => {
    const c = await RawClient.open(gw.port);
    const rq = c.corr();
    const durable = c.corr();
    const env = () => encodeEnvelope(envelope());
    c.write(
      Buffer.concat([
        encodeRequest(rq, REQUEST_TIMEOUT_MS, undefined, env()),
        encodePublish(durable, 1, undefined, env()), // no persister here: its commit never comes
        header(8, 2, FrameType.PING),
      ]),
    );
    await c.closed;
    for (const corr of [rq, durable])
      expect(c.frames.filter((f) => f.corr === corr)).toMatchObject([
        { type: FrameType.ERROR, code: ErrorCode.TIMEOUT },
      ]);
    expect(c.frames.at(-1)).toMatchObject({
      type: FrameType.ERROR,
      corr: 0,
      code: ErrorCode.UNSUPPORTED_VERSION,
    });
  });

  // Mutation tried: onData processed frames only when the decoder did not report a framing error (the old
  // throw path): no WELCOME, test fails.
  it('a HELLO followed by an oversize frame in one write gets its WELCOME first', async () => {
    const c = await RawClient.connect(gw.port);
    c.write(
      Buffer.concat([
        encodeFrame({ type: FrameType.HELLO, corr: 9, clientName: 'x' }),
        header(cfg.network.max_frame_bytes, 1, FrameType.PUBLISH),
      ]),
    );
    await c.closed;
    expect(c.frames.map((f) => [f.type, f.corr])).toEqual([
      [FrameType.WELCOME, 9],
      [FrameType.ERROR, 0],
    ]);
    expect(c.frames[1]).toMatchObject({ code: ErrorCode.FRAME_TOO_LARGE });
  });
});
