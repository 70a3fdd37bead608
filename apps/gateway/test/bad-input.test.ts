import { ErrorCode, encodeEnvelope, encodeFrame, encodePublish, FrameType } from '@fleet/protocol';
import { describe, expect, it } from 'vitest';
import { envelope, gatewayConfig, RawClient, useClient, useGateway } from './helpers.js';

function header(length: number, version: number, type: number, corr: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32BE(length, 0);
  b[4] = version;
  b[5] = type;
  b.writeUInt32BE(corr, 8);
  return b;
}

// Each bad input gets its documented ERROR; framing errors close that connection only.
describe('bad input', () => {
  const cfg = gatewayConfig({ network: { max_frame_bytes: 4096 } });
  const gw = useGateway(cfg);
  const bystander = useClient(gw);

  async function expectBystanderFine(): Promise<void> {
    const ack = await bystander().publish(envelope());
    expect(ack.type).toBe(FrameType.ACK);
  }

  async function expectClosedWith(c: RawClient, code: number, corr = 0): Promise<void> {
    const err = await c.next((f) => f.type === FrameType.ERROR);
    expect(err).toMatchObject({ type: FrameType.ERROR, code, corr });
    await c.closed;
    await expectBystanderFine();
  }

  it('bad length: MALFORMED_FRAME and close', async () => {
    const c = await RawClient.open(gw.port);
    c.write(header(3, 1, FrameType.PING, 5));
    await expectClosedWith(c, ErrorCode.MALFORMED_FRAME);
  });

  it('bad protocol version: UNSUPPORTED_VERSION and close', async () => {
    const c = await RawClient.connect(gw.port);
    c.write(header(8, 9, FrameType.HELLO, 1));
    await expectClosedWith(c, ErrorCode.UNSUPPORTED_VERSION);
  });

  it('oversize frame: FRAME_TOO_LARGE and close, judged from the header alone', async () => {
    const c = await RawClient.open(gw.port);
    c.write(header(10_000_000, 1, FrameType.PUBLISH, 9));
    await expectClosedWith(c, ErrorCode.FRAME_TOO_LARGE);
  });

  it('frame before HELLO: HELLO_REQUIRED and close', async () => {
    const c = await RawClient.connect(gw.port);
    c.write(encodePublish(3, 0, undefined, encodeEnvelope(envelope())));
    await expectClosedWith(c, ErrorCode.HELLO_REQUIRED);
  });

  it('unknown frame type: UNKNOWN_FRAME_TYPE with its corr, connection stays', async () => {
    const c = await RawClient.open(gw.port);
    c.write(Buffer.concat([header(12, 1, 42, 77), Buffer.from([1, 2, 3, 4])]));
    const err = await c.answer(77);
    expect(err).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.UNKNOWN_FRAME_TYPE });
    expect((await c.publish(envelope())).type).toBe(FrameType.ACK);
    expect(c.isClosed).toBe(false);
    await c.close();
    await expectBystanderFine();
  });

  it('bad topic: INVALID_TOPIC with its corr, connection stays', async () => {
    const c = await RawClient.open(gw.port);
    for (const topic of ['orders.*', 'orders..created', 'a#', 'a b', '']) {
      const err = await c.publish(envelope({ topic }));
      expect(err).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.INVALID_TOPIC });
    }
    // Over the length limit the envelope decoder refuses the field itself.
    const long = await c.publish(envelope({ topic: 'x'.repeat(256) }));
    expect([ErrorCode.INVALID_TOPIC, ErrorCode.INVALID_ENVELOPE]).toContain(
      long.type === FrameType.ERROR && long.code,
    );
    expect((await c.publish(envelope())).type).toBe(FrameType.ACK);
    await c.close();
    await expectBystanderFine();
  });

  it('bad envelope: INVALID_ENVELOPE with its corr, connection stays', async () => {
    const c = await RawClient.open(gw.port);
    const truncated = encodeEnvelope(envelope()).subarray(0, 20);
    expect(await c.publish(truncated)).toMatchObject({
      type: FrameType.ERROR,
      code: ErrorCode.INVALID_ENVELOPE,
    });
    const badVersion = Buffer.from(encodeEnvelope(envelope()));
    badVersion[0] = 7;
    expect(await c.publish(badVersion)).toMatchObject({
      type: FrameType.ERROR,
      code: ErrorCode.INVALID_ENVELOPE,
    });
    expect(await c.publish(envelope({ priority: 9 }))).toMatchObject({ code: ErrorCode.INVALID_ENVELOPE });
    const ping = c.corr();
    c.write(encodeFrame({ type: FrameType.PING, corr: ping }));
    expect(await c.answer(ping)).toMatchObject({ type: FrameType.PONG });
    await c.close();
    await expectBystanderFine();
    expect(gw.stats().inFlight).toBe(0);
  });
});
