import {
  ErrorCode,
  encodeDurableIds,
  entryFields,
  FleetKeys,
  FrameType,
  ingestRecords,
} from '@fleet/protocol';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { envelope, gatewayConfig, redisUrl, sleep, useClient, useGateway } from './helpers.js';

// A `durable` PUBLISH is ACKed (level 1) only when the persister's commit notification names its id.
describe('durable ack', () => {
  const cfg = gatewayConfig({ requests: { max_timeout_ms: 800 } });
  const keys = new FleetKeys(cfg.redis.key_prefix, 1);
  const redis = new Redis(redisUrl());
  const gw = useGateway(cfg);
  const client = useClient(gw);

  afterAll(async () => {
    redis.disconnect();
  });

  it('waits for the commit notification, then ACKs with level 1', async () => {
    const envs = [envelope({ id: 'd-1' }), envelope({ id: 'd-2' }), envelope({ id: 'd-3' })];
    let answered = 0;
    const answers = envs.map((e) =>
      client()
        .publish(e, { durable: true })
        .then((a) => {
          answered++;
          return a;
        }),
    );
    await sleep(150);
    expect(answered).toBe(0);
    // The entry names this gateway for the notification.
    const rows = await redis.xrangeBuffer(keys.ingestStream(0), '-', '+');
    const records = rows.flatMap(([id, flat]) =>
      ingestRecords(entryFields(flat)).map((r) => ({ ...r, streamId: id.toString() })),
    );
    expect(records).toHaveLength(3);
    for (const r of records) expect(r.durableAck).toBe(gw.gatewayId);
    // The persister publishes committed ids; ids of other messages are ignored.
    await redis.publish(keys.durableChannel(gw.gatewayId), encodeDurableIds(['d-1', 'unknown', 'd-3']));
    await sleep(100);
    expect(answered).toBe(2);
    await redis.publish(keys.durableChannel(gw.gatewayId), encodeDurableIds(['d-2']));
    const acks = await Promise.all(answers);
    acks.forEach((a, i) => {
      expect(a).toMatchObject({
        type: FrameType.ACK,
        ackLevel: 1,
        messageId: envs[i]!.id,
        streamId: records.find((r) => r.id === envs[i]!.id)!.streamId,
      });
    });
    expect(gw.stats()).toMatchObject({ pendingDurable: 0, inFlight: 0 });
  });

  it('answers TIMEOUT when no commit comes before requests.max_timeout_ms', async () => {
    const started = Date.now();
    const res = await client().publish(envelope({ id: 'never-committed' }), { durable: true });
    expect(res).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.TIMEOUT });
    expect(Date.now() - started).toBeGreaterThanOrEqual(780);
    await redis.publish(keys.durableChannel(gw.gatewayId), encodeDurableIds(['never-committed']));
    await sleep(50);
    expect(gw.stats()).toMatchObject({ pendingDurable: 0, inFlight: 0 });
  });
});
