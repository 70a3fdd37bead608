import { writeFile } from 'node:fs/promises';
import type { FleetConfig } from '@fleet/config';
import { ErrorCode, encodeEnvelope, encodeFrame, encodePublish, FrameType } from '@fleet/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type DeepPartial, deepMerge, writeTestConfig } from '../../../test/helpers/config.js';
import { type AppProcess, spawnApp } from '../../../test/helpers/processes.js';
import { cleanupRedisPrefix, envelope, RawClient, waitUntil } from './helpers.js';

// Issue "proof": the gateway's live limits (docs/configuration.md, Reload = live: network.max_connections,
// timeout_ms, max_frame_bytes, max_in_flight; gateway.handshake_timeout_ms, max_hello_bytes,
// frame_timeout_ms; thread_pools.io.queue_size; requests.default_timeout_ms) take effect on save in a running gateway process, with no
// restart. The test waits on the "config reloaded" log line (written after reconfigure() returned), then
// checks each limit on connections opened after it; every wait is for an answer, a close or a metric, never
// a sleep. Limits that bound a frame apply to connections accepted after the reload (main.ts).
// Mutations tried: Output.reconfigure left maxInFlight at its start value (one field not applied): WELCOME
// still announced 2 (it reads the config), but the socket with 2 requests in flight was never paused and
// the paused-sockets wait below failed; the same with queueSize: the queue_size wait failed.

type Plain = Parameters<typeof deepMerge>[0];

const BEFORE: DeepPartial<FleetConfig> = {
  network: { max_connections: 100, timeout_ms: 60_000, max_frame_bytes: 1024 * 1024, max_in_flight: 1024 },
  gateway: { handshake_timeout_ms: 10_000, max_hello_bytes: 8192, frame_timeout_ms: 30_000 },
  thread_pools: { io: { queue_size: 65_536 } },
  requests: { default_timeout_ms: 60_000 },
};
const AFTER = {
  network: { max_connections: 3, timeout_ms: 1_500, max_frame_bytes: 4096, max_in_flight: 2 },
  gateway: { handshake_timeout_ms: 700, max_hello_bytes: 256, frame_timeout_ms: 900 },
  thread_pools: { io: { queue_size: 3 } },
  requests: { default_timeout_ms: 400 },
} as const;
/** Far below BEFORE's 60 s default: a REQUEST answered TIMEOUT within this used the reloaded default. */
const REQUEST_ANSWER_BOUND_MS = 20_000;
/** The gateway pushes gauges to prom-client once a second: a state shows in /metrics within a few. */
const METRIC_WAIT_MS = 10_000;

describe('gateway hot reload of its limits', () => {
  const prefixes: string[] = [];
  let app: AppProcess | undefined;
  afterAll(async () => {
    await app?.stop(15_000);
    for (const p of prefixes) await cleanupRedisPrefix(p);
  });

  /** The value of an unlabelled gauge in the gateway's /metrics (the registry adds only `app`). */
  async function gauge(metricsPort: number, name: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
    return line ? Number(line.split(' ').pop()) : Number.NaN;
  }

  /** The ERROR that closed `c`, after the close. */
  async function closingError(c: RawClient): Promise<unknown> {
    const err = await c.next((f) => f.type === FrameType.ERROR && f.corr === 0);
    await c.closed;
    return err;
  }

  it('applies the live gateway limits on save, without a restart', async () => {
    const { path, config } = await writeTestConfig(BEFORE);
    prefixes.push(config.redis!.key_prefix!);
    app = spawnApp('gateway', { config: path });
    const ready = JSON.parse(await app.waitReady(30_000));
    const port: number = ready.port;

    const before = await RawClient.connect(port);
    expect(await before.hello()).toMatchObject({
      type: FrameType.WELCOME,
      maxFrameBytes: 1024 * 1024,
      maxInFlight: 1024,
      idleTimeoutMs: 60_000,
    });
    await before.close();

    await writeFile(
      path,
      stringify({ messaging_system: deepMerge(config as Plain, AFTER as unknown as Plain) }),
    );
    const reloaded = JSON.parse(await app.waitForLine(/"msg":"config reloaded"/, 10_000));
    expect([...reloaded.changed].sort()).toEqual(
      [
        'gateway.frame_timeout_ms',
        'gateway.handshake_timeout_ms',
        'gateway.max_hello_bytes',
        'network.max_connections',
        'network.max_frame_bytes',
        'network.max_in_flight',
        'network.timeout_ms',
        'requests.default_timeout_ms',
        'thread_pools.io.queue_size',
      ].sort(),
    );

    // WELCOME announces the new frame size, window and idle timeout.
    const welcome = await RawClient.connect(port);
    expect(await welcome.hello()).toMatchObject({
      type: FrameType.WELCOME,
      maxFrameBytes: AFTER.network.max_frame_bytes,
      maxInFlight: AFTER.network.max_in_flight,
      idleTimeoutMs: AFTER.network.timeout_ms,
    });
    await welcome.close();

    // network.max_frame_bytes: a 5 KB PUBLISH is over the new limit (it was far under the old one).
    const big = await RawClient.open(port);
    big.write(
      encodePublish(big.corr(), 0, undefined, encodeEnvelope(envelope({ payload: Buffer.alloc(5_000) }))),
    );
    expect(await closingError(big)).toMatchObject({
      code: ErrorCode.FRAME_TOO_LARGE,
      message: expect.stringContaining(`${AFTER.network.max_frame_bytes}-byte limit`),
    });

    // gateway.max_hello_bytes: a HELLO of ~300 bytes is over the new first-frame limit.
    const longHello = await RawClient.connect(port);
    longHello.write(encodeFrame({ type: FrameType.HELLO, corr: 1, clientName: 'x'.repeat(300) }));
    expect(await closingError(longHello)).toMatchObject({
      code: ErrorCode.FRAME_TOO_LARGE,
      message: expect.stringContaining(`${AFTER.gateway.max_hello_bytes}-byte limit`),
    });

    // gateway.handshake_timeout_ms: no HELLO.
    const silent = await RawClient.connect(port);
    expect(await closingError(silent)).toMatchObject({
      code: ErrorCode.TIMEOUT,
      message: `no HELLO within ${AFTER.gateway.handshake_timeout_ms} ms`,
    });

    // gateway.frame_timeout_ms: half a frame, never finished.
    const half = await RawClient.open(port);
    half.write(encodePublish(half.corr(), 0, undefined, encodeEnvelope(envelope())).subarray(0, 20));
    expect(await closingError(half)).toMatchObject({
      code: ErrorCode.TIMEOUT,
      message: `frame unfinished after ${AFTER.gateway.frame_timeout_ms} ms`,
    });

    // network.timeout_ms: HELLO, then nothing.
    const idle = await RawClient.open(port);
    expect(await closingError(idle)).toMatchObject({
      code: ErrorCode.TIMEOUT,
      message: `idle for ${AFTER.network.timeout_ms} ms`,
    });

    // requests.default_timeout_ms: a REQUEST without a deadline (no worker answers) gets the new default.
    const asker = await RawClient.open(port);
    const asked = Date.now();
    expect(await asker.request(envelope(), 0)).toMatchObject({
      type: FrameType.ERROR,
      code: ErrorCode.TIMEOUT,
    });
    expect(Date.now() - asked).toBeLessThan(REQUEST_ANSWER_BOUND_MS);
    await asker.close();

    // network.max_in_flight: two REQUESTs waiting fill the new window of 2, so the gateway pauses the socket.
    const metricsPort: number = ready.metrics_port;
    const paused = (n: number) =>
      waitUntil(async () => (await gauge(metricsPort, 'fleet_gateway_paused_sockets')) === n, METRIC_WAIT_MS);
    const busy = await RawClient.open(port);
    void busy.request(envelope(), 60_000);
    void busy.request(envelope(), 60_000);
    expect(await paused(1), 'socket with max_in_flight requests pending was not paused').toBe(true);
    // thread_pools.io.queue_size: one more REQUEST on another socket makes 3 in flight in the process, the
    // new bound, so that socket is paused too although its own window is not full.
    const third = await RawClient.open(port);
    void third.request(envelope(), 60_000);
    expect(await paused(2), 'socket at the process-wide queue_size was not paused').toBe(true);
    await Promise.all([busy.close(), third.close()]);

    // network.max_connections: with every earlier connection gone, the 4th of 4 is refused.
    expect(
      await waitUntil(
        async () => (await gauge(metricsPort, 'fleet_gateway_connections')) === 0,
        METRIC_WAIT_MS,
      ),
    ).toBe(true);
    const held: RawClient[] = [];
    for (let i = 0; i < AFTER.network.max_connections; i++) held.push(await RawClient.open(port));
    const extra = await RawClient.connect(port);
    expect(await closingError(extra)).toMatchObject({
      code: ErrorCode.OVERLOADED,
      message: 'too many connections',
    });
    // Connections within the limit keep working.
    expect((await held[0]!.publish(envelope())).type).toBe(FrameType.ACK);
    await Promise.all(held.map((c) => c.close()));

    expect(await app.stop(15_000)).toBe(0);
    app = undefined;
  }, 90_000);
});
