import { writeFile } from 'node:fs/promises';
import { ErrorCode, encodeEnvelope, encodePublish, FleetKeys, FrameType } from '@fleet/protocol';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { writeTestConfig } from '../../../test/helpers/config.js';
import { ingestMessages } from '../../../test/helpers/ingest.js';
import { spawnApp } from '../../../test/helpers/processes.js';
import { cleanupRedisPrefix, envelope, RawClient, redisUrl } from './helpers.js';

// main.ts as production runs it: ready line with the port, /metrics, and SIGTERM drains and exits 0.
describe('gateway process', () => {
  const prefixes: string[] = [];
  afterAll(async () => {
    for (const p of prefixes) await cleanupRedisPrefix(p);
  });

  it('serves, exposes metrics and drains on SIGTERM', async () => {
    const { path, config } = await writeTestConfig();
    const prefix = config.redis!.key_prefix!;
    prefixes.push(prefix);
    const app = spawnApp('gateway', { config: path });
    const ready = JSON.parse(await app.waitReady(30_000));
    expect(ready.port).toBeGreaterThan(0);
    const c = await RawClient.open(ready.port);
    expect((await c.publish(envelope())).type).toBe(FrameType.ACK);

    const res = await fetch(`http://127.0.0.1:${ready.metrics_port}/metrics`);
    const text = await res.text();
    expect(text).toContain('fleet_gateway_ack_latency_seconds');

    // Pipeline a burst of distinct ids and signal at once: everything read is answered before the
    // connection closes, and every ACKed id is in the stream. Mutation checked: with shutdown's forced flush
    // ACKing the entries it had queued without their XADD, ACKed ids are missing and this failed (2 of 3
    // runs: it needs frames read in the turn SIGTERM lands in, hence 20,000 in flight). It used to reuse
    // one id for every frame and compare counts, which could not tell.
    const ids = Array.from({ length: 20_000 }, (_, i) => `drain-${i}`);
    c.write(
      Buffer.concat(ids.map((id) => encodePublish(c.corr(), 0, undefined, encodeEnvelope(envelope({ id }))))),
    );
    await c.next((f) => f.type === FrameType.ACK && f.messageId === ids[0]);
    app.kill('SIGTERM');
    expect(await app.exited).toBe(0);
    await c.closed;
    const acked = c.frames.flatMap((f) => (f.type === FrameType.ACK ? [f.messageId] : []));
    const errors = c.frames.filter((f) => f.type === FrameType.ERROR);
    // Frames not yet read when the gateway stopped reading get no answer; a client resends those.
    expect(
      errors.every((f) => f.type === FrameType.ERROR && f.code === ErrorCode.SHUTTING_DOWN && f.corr === 0),
    ).toBe(true);
    // At most one answer per frame.
    const answeredCorrs = c.frames.filter((f) => f.corr !== 0).map((f) => f.corr);
    expect(new Set(answeredCorrs).size).toBe(answeredCorrs.length);
    const redis = new Redis(redisUrl());
    const stored = new Set(
      (await ingestMessages(redis, new FleetKeys(prefix, 1).ingestStream(0))).map((r) => r.id),
    );
    redis.disconnect();
    expect(acked.filter((id) => id.startsWith('drain-') && !stored.has(id))).toEqual([]);
    expect(acked.length).toBeGreaterThan(1);
  }, 60_000);

  it('applies live config changes (auth tokens) without a restart', async () => {
    const { path, config } = await writeTestConfig();
    prefixes.push(config.redis!.key_prefix!);
    const app = spawnApp('gateway', { config: path });
    const ready = JSON.parse(await app.waitReady(30_000));
    const before = await RawClient.connect(ready.port);
    expect((await before.hello()).type).toBe(FrameType.WELCOME);
    await writeFile(
      path,
      stringify({ messaging_system: { ...config, auth: { tokens: ['fresh-token-0123456789'] } } }),
    );
    await app.waitForLine(/"msg":"config reloaded"/, 10_000);
    const after = await RawClient.connect(ready.port);
    expect(await after.hello()).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.AUTH_REQUIRED });
    // Connections already admitted keep working.
    expect((await before.publish(envelope())).type).toBe(FrameType.ACK);
    await before.close();
    expect(await app.stop(15_000)).toBe(0);
  }, 60_000);

  it('runs thread_pools.io.workers processes on one port', async () => {
    const { path, config } = await writeTestConfig({ thread_pools: { io: { workers: 2 } } });
    prefixes.push(config.redis!.key_prefix!);
    const app = spawnApp('gateway', { config: path });
    const ready = JSON.parse(await app.waitReady(30_000));
    expect(ready.workers).toBe(2);
    const ids = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const c = await RawClient.connect(ready.port);
      const w = await c.hello();
      if (w.type === FrameType.WELCOME) ids.add(w.gatewayId);
      expect((await c.publish(envelope())).type).toBe(FrameType.ACK);
      await c.close();
    }
    expect(ids.size).toBe(2);
    // The primary serves both workers' metrics, summed (workers push counters to prom-client each second).
    const ackedSeries = async () => {
      const text = await (await fetch(`http://127.0.0.1:${ready.metrics_port}/metrics`)).text();
      const line = text
        .split('\n')
        .find((l) => l.startsWith('fleet_gateway_frames_out_total{') && l.includes('"ack"'));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    let acked = 0;
    for (let i = 0; i < 40 && acked < 6; i++) {
      acked = await ackedSeries();
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(acked).toBe(6);
    expect(await app.stop(15_000)).toBe(0);
  }, 60_000);
});
