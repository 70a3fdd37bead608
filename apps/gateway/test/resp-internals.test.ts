import { EntryField, entryFields, FleetKeys, ingestRecords, isTraceparent } from '@fleet/protocol';
import { createRedis, type FleetRedis } from '@fleet/redis';
import { Command } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitReady } from '../src/redis.js';
import { type BatchItem, encodeXaddBatch, PrebuiltCommand } from '../src/resp.js';
import { cleanupRedisPrefix, gatewayConfig, uniquePrefix } from './helpers.js';

// resp.ts hands ioredis a Command whose toWritable() returns bytes built by hand (see the comment there for
// why). ioredis does not document toWritable; these tests say so plainly if an upgrade changes it, against
// a real Redis. Mutation tried: PrebuiltCommand's toWritable override renamed (ioredis then serializes the
// empty args itself, a bare XADD): the Redis test fails with the BROKEN message below.
const BROKEN =
  'ioredis no longer sends what Command.toWritable() returns as the command bytes; apps/gateway/src/resp.ts ' +
  '(PrebuiltCommand) relies on that internal: re-check it against the new ioredis or go back to stock commands';
const REPLY_WAIT_MS = 3_000;

describe('resp.ts and the ioredis internal it relies on', () => {
  const prefix = uniquePrefix('gw-resp');
  const key = new FleetKeys(prefix, 1).ingestStream(0);
  let redis: FleetRedis;

  beforeAll(async () => {
    redis = createRedis(gatewayConfig().redis, 'command', { commandTimeoutMs: REPLY_WAIT_MS });
    redis.connect().catch(() => {});
    expect(await waitReady(redis, 5_000), 'redis not reachable').toBe(true);
  });
  afterAll(async () => {
    redis.disconnect();
    await cleanupRedisPrefix(prefix);
  });

  it('ioredis still has Command with a toWritable method to override', () => {
    expect(typeof Command, `ioredis exports no Command class: ${BROKEN}`).toBe('function');
    expect(typeof Command.prototype.toWritable, `Command.prototype.toWritable is gone: ${BROKEN}`).toBe(
      'function',
    );
  });

  it('Redis stores the entry exactly as the hand-built XADD describes it', async () => {
    const items: BatchItem[] = [
      { envelope: Buffer.from('first'), messageId: 'm-1', traceparent: 1, replyTo: '', durable: '' },
      {
        envelope: Buffer.from([0, 255, 13, 10]),
        messageId: 'm-2-é',
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        replyTo: 'gw-x|1:7',
        durable: 'gw-x',
      },
    ];
    const acceptedAt = '1764201600123';
    const reply = new Promise<unknown>((resolve, reject) => {
      redis.sendCommand(
        new PrebuiltCommand(encodeXaddBatch(key, acceptedAt, items), key, (err, id) =>
          err ? reject(err) : resolve(id),
        ),
      );
    });
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`no reply in ${REPLY_WAIT_MS} ms (callback not called?): ${BROKEN}`)),
        REPLY_WAIT_MS,
      ).unref(),
    );
    const id = await Promise.race([reply, timeout]).catch((err: Error) => {
      throw new Error(`XADD failed (${err.message}): ${BROKEN}`);
    });
    expect(id, `XADD reply is not a stream id: ${BROKEN}`).toMatch(/^\d+-\d+$/);

    const rows = await redis.xrangeBuffer(key, id as string, id as string);
    expect(rows).toHaveLength(1);
    const fields = entryFields(rows[0]![1]);
    expect(fields.get(EntryField.acceptedAt)?.toString()).toBe(acceptedAt);
    const records = ingestRecords(fields);
    expect(records.map((r) => [r.envelope.toString('hex'), r.id, r.replyTo, r.durableAck])).toEqual(
      items.map((it) => [
        it.envelope.toString('hex'),
        it.messageId,
        it.replyTo || undefined,
        it.durable || undefined,
      ]),
    );
    expect(isTraceparent(records[0]!.traceparent!)).toBe(true);
    expect(records[1]!.traceparent).toBe(items[1]!.traceparent);
  });
});
