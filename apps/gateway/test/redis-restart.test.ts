import { ErrorCode, encodeEnvelope, encodePublish, FleetKeys, FrameType } from '@fleet/protocol';
import { type PrivateRedis, startPrivateRedis } from '@fleet/services';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestMessages } from '../../../test/helpers/ingest.js';
import { envelope, gatewayConfig, RawClient, sleep, useGateway, waitUntil } from './helpers.js';

const TOTAL = 50_000;
const WINDOW = 1_000;

// Redis (AOF, appendfsync always) is killed and restarted in the middle of a 50K-message publish:
// the gateway answers UNAVAILABLE meanwhile, reconnects by itself, and every ACKed id is in the stream.
describe('redis restart mid-publish', () => {
  let redis: PrivateRedis;
  let prefix = '';

  beforeAll(async () => {
    redis = await startPrivateRedis({ aof: true });
  }, 30_000);
  afterAll(async () => {
    await redis?.dispose();
  });
  const gw = useGateway(() => {
    const cfg = gatewayConfig({}, redis.url);
    prefix = cfg.redis.key_prefix;
    return cfg;
  });

  it('never ACKs a message missing from the stream', async () => {
    const client = await RawClient.open(gw.port);
    const acked = new Set<string>();
    let unavailable = 0;
    const otherErrors: number[] = [];
    const todo: number[] = Array.from({ length: TOTAL }, (_, i) => i);
    const byCorr = new Map<number, number>();
    const envs = new Map<number, Buffer>();
    let inFlight = 0;
    let restarted = false;
    let restart: Promise<void> | undefined;

    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`stuck: ${acked.size} acked`)), 50_000);
      const pump = () => {
        while (inFlight < WINDOW && todo.length > 0) {
          const n = todo.shift()!;
          const corr = client.corr();
          byCorr.set(corr, n);
          let env = envs.get(n);
          if (!env) {
            env = encodeEnvelope(envelope({ id: `msg-${n}`, payload: Buffer.alloc(100, n % 256) }));
            envs.set(n, env);
          }
          inFlight++;
          client.write(encodePublish(corr, 0, undefined, env));
        }
      };
      client.socket.on('data', () => {
        // RawClient has decoded the chunk already (its listener was added first).
        for (const f of client.frames.splice(0)) {
          const n = byCorr.get(f.corr);
          if (n === undefined) continue;
          byCorr.delete(f.corr);
          inFlight--;
          if (f.type === FrameType.ACK) {
            acked.add(f.messageId);
            envs.delete(n);
          } else if (f.type === FrameType.ERROR) {
            if (f.code === ErrorCode.UNAVAILABLE) unavailable++;
            else otherErrors.push(f.code);
            setTimeout(() => {
              todo.push(n);
              pump();
            }, 20);
          }
        }
        if (!restarted && acked.size >= TOTAL / 3) {
          restarted = true;
          restart = redis.kill().then(() => redis.restart());
        }
        if (acked.size === TOTAL) {
          clearTimeout(deadline);
          resolve();
        } else pump();
      });
      pump();
    });
    await restart;
    expect(unavailable).toBeGreaterThan(0);
    expect(otherErrors).toEqual([]);
    expect(await waitUntil(() => gw.stats().redisReady, 10_000)).toBe(true);

    const check = new Redis(redis.url);
    const stream = new FleetKeys(prefix, 1).ingestStream(0);
    const stored = new Set((await ingestMessages(check, stream)).map((r) => r.id));
    check.disconnect();
    const missing = [...acked].filter((id) => !stored.has(id));
    expect(missing).toEqual([]);
    expect(acked.size).toBe(TOTAL);
    await client.close();
    await sleep(10);
  }, 60_000);

  it('answers UNAVAILABLE quickly while Redis is down and recovers by itself', async () => {
    const client = await RawClient.open(gw.port);
    await redis.stop();
    const started = Date.now();
    const res = await client.publish(envelope());
    expect(res).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.UNAVAILABLE });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(gw.stats().inFlight).toBe(0);
    await redis.restart();
    expect(await waitUntil(() => gw.stats().redisReady, 10_000)).toBe(true);
    expect((await client.publish(envelope())).type).toBe(FrameType.ACK);
    await client.close();
  }, 30_000);
});
