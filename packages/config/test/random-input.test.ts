import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError, parseConfig } from '../src/index.js';

const example = readFileSync(new URL('../../../config/fleet.yaml', import.meta.url), 'utf8');

/** The loader's only failure mode is a ConfigError with at least one single-line problem. */
function check(text: string, env: NodeJS.ProcessEnv = {}): void {
  try {
    parseConfig(text, { file: 'r.yaml', env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems.length).toBeGreaterThanOrEqual(1);
    for (const p of problems) {
      expect(p).not.toContain('\n');
      expect(p.startsWith('r.yaml') || p.startsWith('env ')).toBe(true);
    }
  }
}

const keys = fc.constantFrom(
  'messaging_system',
  'network',
  'port',
  'logging',
  'level',
  'writers',
  'type',
  'tls',
  'x',
);
const jsonish = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(keys, fc.string()), tie('value'), { maxKeys: 4 }),
  ),
})).value;

describe('random documents never crash the loader', () => {
  it('arbitrary JSON-ish values dumped as YAML', () => {
    fc.assert(
      fc.property(jsonish, (v) => check(stringify(v))),
      { numRuns: 300 },
    );
  });

  it('random values under messaging_system sections', () => {
    const doc = fc.record({ messaging_system: fc.dictionary(keys, jsonish, { maxKeys: 4 }) });
    fc.assert(
      fc.property(doc, (v) => check(stringify(v))),
      { numRuns: 300 },
    );
  });

  it('random strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => check(s)),
      { numRuns: 500 },
    );
  });

  it('truncated and spliced copies of the valid example', () => {
    fc.assert(
      fc.property(
        fc.nat(example.length),
        fc.nat(example.length),
        fc.string({ maxLength: 5 }),
        (a, b, junk) => {
          check(example.slice(0, a));
          check(example.slice(0, Math.min(a, b)) + junk + example.slice(Math.max(a, b)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('random environment values', () => {
    const env = fc.dictionary(
      fc.constantFrom(
        'FLEET_NETWORK__PORT',
        'FLEET_LOGGING__WRITERS',
        'FLEET_OPS__BASIC_AUTH',
        'FLEET_X__Y',
        'FLEET_REDIS_URL',
      ),
      fc.string({ maxLength: 30 }),
    );
    fc.assert(
      fc.property(env, (e) => check(example, e)),
      { numRuns: 200 },
    );
  });
});
