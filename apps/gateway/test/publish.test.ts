import {
  decodeEnvelope,
  EntryField,
  entryFields,
  FleetKeys,
  FrameType,
  type IngestRecord,
  ingestRecords,
  isTraceparent,
  resolveTraceparent,
} from '@fleet/protocol';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { envelope, gatewayConfig, redisUrl, useClient, useGateway } from './helpers.js';

// A PUBLISH becomes one ingest-stream entry carrying the client's envelope bytes, the id and a trace.
describe('publish', () => {
  const cfg = gatewayConfig({ streams: { shards: 4 } });
  const keys = new FleetKeys(cfg.redis.key_prefix, cfg.streams.shards);
  const redis = new Redis(redisUrl());
  const gw = useGateway(cfg);
  const client = useClient(gw);

  afterAll(async () => {
    redis.disconnect();
  });

  /** The message `messageId` in the ingest entry `streamId`, and the entry's acceptedAt. */
  async function entry(
    shard: number,
    streamId: string,
    messageId: string,
  ): Promise<IngestRecord & { acceptedAt: number }> {
    const rows = await redis.xrangeBuffer(keys.ingestStream(shard), streamId, streamId);
    expect(rows).toHaveLength(1);
    const fields = entryFields(rows[0]![1]);
    const record = ingestRecords(fields).find((r) => r.id === messageId);
    expect(record).toBeDefined();
    return { ...record!, acceptedAt: Number(fields.get(EntryField.acceptedAt)!.toString()) };
  }

  it('stores every envelope field and ACKs with the stream id', async () => {
    const env = envelope({
      id: 'client-id-1',
      topic: 'billing.invoice.paid',
      type: 'command',
      priority: 5,
      ttl: 60_000,
      source: 'svc-a',
      target: 'svc-b',
      correlationId: 'corr-42',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      headers: { tenant: 'acme', 'x-ü': 'ünïcode' },
      payload: Buffer.from([0, 1, 2, 255, 254]),
    });
    const ack = await client().publish(env);
    expect(ack.type).toBe(FrameType.ACK);
    if (ack.type !== FrameType.ACK) return;
    expect(ack.messageId).toBe('client-id-1');
    expect(ack.ackLevel).toBe(0);
    const shard = keys.shardOf(env.topic);
    const e = await entry(shard, ack.streamId, 'client-id-1');
    expect(e.acceptedAt).toBeGreaterThan(Date.now() - 60_000);
    // The client's traceparent wins: the gateway adds none.
    expect(e.traceparent).toBeUndefined();
    expect(e.replyTo).toBeUndefined();
    expect(e.durableAck).toBeUndefined();
    const stored = decodeEnvelope(e.envelope);
    expect({ ...stored, payload: Buffer.from(stored.payload) }).toEqual({
      ...env,
      payload: Buffer.from(env.payload),
    });
  });

  it('assigns an id and traces a message without a traceparent under that id', async () => {
    const env = envelope({ id: '', topic: 'orders.created' });
    const ack = await client().publish(env);
    expect(ack.type).toBe(FrameType.ACK);
    if (ack.type !== FrameType.ACK) return;
    expect(ack.messageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const e = await entry(keys.shardOf(env.topic), ack.streamId, ack.messageId);
    expect(decodeEnvelope(e.envelope).id).toBe(ack.messageId);
    // Two bytes in the entry, not a trace id: the derived mark of the id (flags 01, sampled).
    expect(e.traceparent).toBe('01');
    const tp = resolveTraceparent(e.traceparent, ack.messageId)!;
    expect(isTraceparent(tp)).toBe(true);
    expect(tp.slice(3, 35)).toBe(ack.messageId.replaceAll('-', ''));
  });

  it('generates a traceparent for a message whose id is not a UUID', async () => {
    const env = envelope({ id: 'order-42', topic: 'orders.created' });
    const ack = await client().publish(env);
    if (ack.type !== FrameType.ACK) throw new Error(JSON.stringify(ack));
    const e = await entry(keys.shardOf(env.topic), ack.streamId, ack.messageId);
    expect(isTraceparent(e.traceparent!)).toBe(true);
  });

  it('routes by partition key when one is given', async () => {
    const env = envelope({ topic: 'orders.created' });
    const ack = await client().publish(env, { partitionKey: 'customer-7' });
    if (ack.type !== FrameType.ACK) throw new Error(JSON.stringify(ack));
    await entry(keys.shardOf('customer-7'), ack.streamId, ack.messageId);
  });

  it('pipelines many publishes over one connection, each ACKed once', async () => {
    const answers = await Promise.all(
      Array.from({ length: 2_000 }, (_, i) => client().publish(envelope({ id: `p-${i}` }))),
    );
    expect(answers.every((a) => a.type === FrameType.ACK)).toBe(true);
    const ids = new Set(answers.map((a) => (a.type === FrameType.ACK ? a.messageId : '')));
    expect(ids.size).toBe(2_000);
    expect(gw.stats().inFlight).toBe(0);
  });
});
