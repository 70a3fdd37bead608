import {
  decodeEnvelope,
  ErrorCode,
  encodeReply,
  entryFields,
  FleetKeys,
  FrameType,
  ingestRecords,
  parseReplyAddress,
} from '@fleet/protocol';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelope, gatewayConfig, redisUrl, useClient, useGateway } from './helpers.js';

// REQUEST goes through the stream with a reply address; the reply on the gateway's channel becomes RESPONSE.
describe('request/reply', () => {
  const cfg = gatewayConfig();
  const keys = new FleetKeys(cfg.redis.key_prefix, 1);
  const reader = new Redis(redisUrl());
  const publisher = new Redis(redisUrl());
  const gw = useGateway(cfg);
  const client = useClient(gw);
  let responding = true;

  /** A fake worker: reads requests from the stream and answers each with its payload upper-cased. */
  async function respond(): Promise<void> {
    let last = '0';
    while (responding) {
      const res = await reader.xreadBuffer('COUNT', 100, 'BLOCK', 100, 'STREAMS', keys.ingestStream(0), last);
      if (!res) continue;
      for (const [id, fields] of res[0]![1]) {
        last = id.toString();
        for (const r of ingestRecords(entryFields(fields))) {
          if (!r.replyTo) continue;
          const addr = parseReplyAddress(r.replyTo)!;
          const env = decodeEnvelope(r.envelope);
          const text = Buffer.from(env.payload).toString();
          const reply =
            text === 'fail'
              ? { correlationId: addr.correlationId, ok: false, error: 'handler said no' }
              : {
                  correlationId: addr.correlationId,
                  ok: true,
                  payload: Buffer.from(text.toUpperCase()),
                  traceparent: r.traceparent ?? env.traceparent,
                };
          await publisher.publish(keys.replyChannel(addr.gatewayId), encodeReply(reply));
        }
      }
    }
  }
  let responder: Promise<void>;

  beforeAll(async () => {
    responder = respond();
  });
  afterAll(async () => {
    responding = false;
    await responder;
    reader.disconnect();
    publisher.disconnect();
  });

  it('answers RESPONSE with the request corr, payload and trace', async () => {
    const res = await client().request(envelope({ type: 'query', payload: Buffer.from('ping') }), 5_000);
    expect(res).toMatchObject({ type: FrameType.RESPONSE, status: 0 });
    if (res.type !== FrameType.RESPONSE) return;
    expect(res.payload.toString()).toBe('PING');
    expect(res.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it('carries a handler error as status HANDLER_ERROR', async () => {
    const res = await client().request(envelope({ payload: Buffer.from('fail') }));
    expect(res).toMatchObject({
      type: FrameType.RESPONSE,
      status: ErrorCode.HANDLER_ERROR,
      error: 'handler said no',
    });
  });

  it('matches many concurrent requests by corr and forgets them', async () => {
    const words = Array.from({ length: 200 }, (_, i) => `w${i}`);
    const answers = await Promise.all(
      words.map((w) => client().request(envelope({ payload: Buffer.from(w) }))),
    );
    answers.forEach((a, i) => {
      expect(a.type === FrameType.RESPONSE && a.payload.toString()).toBe(words[i]!.toUpperCase());
    });
    expect(gw.stats().pendingRequests).toBe(0);
    expect(gw.stats().inFlight).toBe(0);
  });
});
