import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { encodeFrame, FrameType } from '@fleet/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { testTempDir } from '../../../test/helpers/services.js';
import { FakeGateway } from './peer.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../bin/fleet.js', import.meta.url));
let gw: FakeGateway;
afterEach(async () => {
  await gw?.close();
});

async function fleet(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      env: { ...process.env, FLEET_TOKEN: '' },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('fleet CLI (separate process against a protocol peer)', () => {
  it('publish: literal and @file payloads, headers, durable ack, --count', async () => {
    gw = await FakeGateway.start();
    const file = join(await testTempDir('cli'), 'payload.bin');
    writeFileSync(file, Buffer.from([0, 1, 2, 255]));
    const port = String(gw.port);
    const one = await fleet([
      'publish',
      'orders.created',
      '{"a":1}',
      '--port',
      port,
      '--ack',
      'durable',
      '--header',
      'k=v',
    ]);
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/^[0-9a-f-]{36} \d+-\d+\n$/);
    const many = await fleet(['publish', 'orders.file', `@${file}`, '--port', port, '--count', '50']);
    expect(many.code).toBe(0);
    expect(many.stdout).toMatch(/published 50\/50/);
    expect(gw.received).toHaveLength(51);
    expect(gw.received[0]!.env.headers).toEqual({ k: 'v' });
    expect(gw.received[0]!.ackLevel).toBe(1);
    expect([...gw.received[1]!.env.payload]).toEqual([0, 1, 2, 255]);
  });

  it('publish: bad topic is a readable failure with the code name', async () => {
    gw = await FakeGateway.start();
    const r = await fleet(['publish', 'a.*', 'x', '--port', String(gw.port)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/invalid_topic/);
  });

  it('request: prints the reply payload', async () => {
    gw = await FakeGateway.start({
      onRequest: (f, env, conn) =>
        conn.send(
          encodeFrame({
            type: FrameType.RESPONSE,
            corr: f.corr,
            status: 0,
            payload: Buffer.from(`re:${Buffer.from(env.payload)}`),
          }),
        ),
    });
    const r = await fleet([
      'request',
      'math.add',
      'hello',
      '--port',
      String(gw.port),
      '--timeout-ms',
      '2000',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('re:hello');
  });

  it('bench: progress on stderr, table and a final JSON line on stdout', async () => {
    gw = await FakeGateway.start();
    const r = await fleet([
      'bench',
      '--port',
      String(gw.port),
      '--connections',
      '2',
      '--window',
      '20',
      '--duration-s',
      '1.2',
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/acked\/s/);
    // Says up front where the traffic goes (the default topic and what a fleet without its handler does).
    expect(r.stderr).toMatch(
      /topic bench\.load\n.*examples\/handlers completes bench\.#.*dead-letters every one/,
    );
    const lines = r.stdout.trim().split('\n');
    expect(r.stdout).toMatch(/acked msg\/s/);
    const json = JSON.parse(lines[lines.length - 1]!);
    expect(json).toMatchObject({ bench: 'fleet-load', connections: 2, window: 20, size: 100 });
    expect(json.acked).toBeGreaterThan(0);
    expect(json.latencyMs.p99).toBeGreaterThan(0);
  });

  it('--help for each command', async () => {
    for (const cmd of ['publish', 'request', 'bench']) {
      const r = await fleet([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: fleet ${cmd}`);
    }
  });

  it('--version prints the version in package.json', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-V']) {
      const r = await fleet([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`fleet ${version}\n`);
    }
  });
});
