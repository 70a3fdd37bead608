// The start-up rule of the ops listeners (exposureProblem): every app's main.ts exits 2 with its line.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultConfig, exposureProblem, isLoopbackHost, type OpsApp, parseConfig } from '../src/index.js';
import { parse, yaml } from './helpers.js';

const APPS: OpsApp[] = ['gateway', 'persister', 'worker'];
const cfg = (...ops: string[]) => parse(yaml('messaging_system:', '  ops:', ...ops.map((l) => `    ${l}`)));
const AUTH = 'basic_auth: {username: ops, password: pw}';

describe('isLoopbackHost', () => {
  it('loopback: 127.0.0.0/8, ::1 and its forms, localhost', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST'])
      expect(isLoopbackHost(h), h).toBe(true);
  });

  it('not loopback: wildcard, private, public and any other name (names are not resolved)', () => {
    for (const h of [
      '0.0.0.0',
      '::',
      '10.0.0.5',
      '192.168.1.1',
      '::ffff:10.0.0.1',
      'fe80::1',
      'gateway',
      'example.com',
    ])
      expect(isLoopbackHost(h), h).toBe(false);
  });

  // Mutation tried: addSubnet('127.0.0.0', 8) -> addAddress('127.0.0.1'): the 127.x.y.z cases failed.
  it('an IPv4 address is loopback exactly when its first octet is 127 (property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(isLoopbackHost(ip)).toBe(ip.startsWith('127.'));
      }),
    );
    fc.assert(
      fc.property(fc.nat(0xffffff), (n) => isLoopbackHost(`127.${n >> 16}.${(n >> 8) & 255}.${n & 255}`)),
    );
  });
});

describe('exposureProblem: nothing writable beyond loopback without auth', () => {
  // Mutation tried: `isLoopbackHost(ops.host)` -> `true` in exposureProblem: the three apps' refusals failed.
  it('every app on a non-loopback host without basic_auth is refused, naming the address and the fixes', () => {
    for (const app of APPS) {
      const line = exposureProblem(cfg('host: 0.0.0.0'), app);
      expect(line, app).toMatch(
        /^refusing to start: .* 0\.0\.0\.0:\d+ without ops\.basic_auth; set ops\.basic_auth/,
      );
      expect(line).not.toContain('\n');
    }
  });

  it('loopback hosts (the default) and basic_auth are allowed', () => {
    for (const app of APPS) {
      expect(exposureProblem(cfg('port: 7401'), app)).toBeNull();
      expect(exposureProblem(cfg('host: "::1"'), app)).toBeNull();
      expect(exposureProblem(cfg('host: 0.0.0.0', AUTH), app)).toBeNull();
    }
  });

  // Mutation tried: dropping the `app === 'persister'` branch (public_metrics opens every app): the
  // persister case failed.
  it('public_metrics opens the read-only metrics servers of gateway and worker, never the persister', () => {
    const c = cfg('host: 0.0.0.0', 'public_metrics: true');
    expect(exposureProblem(c, 'gateway')).toBeNull();
    expect(exposureProblem(c, 'worker')).toBeNull();
    expect(exposureProblem(c, 'persister')).toMatch(/Bull Board, dead-letter replay and purge/);
  });

  it('allow_insecure lifts the rule; gateway and worker without monitoring listen nowhere', () => {
    for (const app of APPS)
      expect(exposureProblem(cfg('host: 0.0.0.0', 'allow_insecure: true'), app)).toBeNull();
    const off = parse(yaml('messaging_system:', '  monitoring: {enabled: false}', '  ops: {host: 0.0.0.0}'));
    expect(exposureProblem(off, 'gateway')).toBeNull();
    expect(exposureProblem(off, 'worker')).toBeNull();
    expect(exposureProblem(off, 'persister')).not.toBeNull(); // its ops server runs regardless
  });
});

describe('safe defaults: every listener on loopback', () => {
  // Mutation tried: network.host's default back to '0.0.0.0' in schema.ts: this test failed.
  it('the schema defaults and the shipped config/fleet.yaml bind the gateway and the ops servers to loopback', () => {
    const example = new URL('../../../config/fleet.yaml', import.meta.url).pathname;
    const shipped = parseConfig(readFileSync(example, 'utf8'), { file: example, env: {} });
    for (const c of [defaultConfig(), shipped]) {
      expect(isLoopbackHost(c.network.host)).toBe(true);
      expect(isLoopbackHost(c.ops.host)).toBe(true);
      expect(c.ops.allow_insecure).toBe(false);
      expect(c.ops.public_metrics).toBe(false);
    }
  });
});
