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

    // Pipeline a burst and signal at once: everything read is answered before the connection closes.
    const env = encodeEnvelope(envelope());
    const frames: Buffer[] = [];
    for (let i = 0; i < 2_000; i++) frames.push(encodePublish(c.corr(), 0, undefined, env));
    c.write(Buffer.concat(frames));
    await c.next((f) => f.corr === 3);
    app.kill('SIGTERM');
    expect(await app.exited).toBe(0);
    await c.closed;
    const acks = c.frames.filter((f) => f.type === FrameType.ACK).length;
    const errors = c.frames.filter((f) => f.type === FrameType.ERROR);
    // Frames not yet read when the gateway stopped reading get no answer; a client resends those.
    expect(
      errors.every((f) => f.type === FrameType.ERROR && f.code === ErrorCode.SHUTTING_DOWN && f.corr === 0),
    ).toBe(true);
    const redis = new Redis(redisUrl());
    expect(
      (await ingestMessages(redis, new FleetKeys(prefix, 1).ingestStream(0))).length,
    ).toBeGreaterThanOrEqual(acks);
    redis.disconnect();
    expect(acks).toBeGreaterThan(1);
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
