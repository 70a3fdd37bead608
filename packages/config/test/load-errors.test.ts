import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile } from '../src/index.js';
import { problems, tempDir, yaml } from './helpers.js';

// Each bad input gives exactly one clear line: file[:line:col] yaml.path: what was expected.
describe('config errors name the file, the path, the position and the expectation', () => {
  it('wrong type', () => {
    expect(problems(yaml('messaging_system:', '  network:', '    port: 80a'))).toEqual([
      'f.yaml:3:11 messaging_system.network.port: expected an integer 0-65535, got "80a"',
    ]);
  });

  it('out of range', () => {
    expect(problems(yaml('messaging_system:', '  network:', '    port: 70000'))).toEqual([
      'f.yaml:3:11 messaging_system.network.port: expected an integer 0-65535, got 70000',
    ]);
    expect(problems(yaml('messaging_system:', '  tracing: {sampling_ratio: 1.5}'))).toEqual([
      'f.yaml:2:29 messaging_system.tracing.sampling_ratio: expected a number 0-1, got 1.5',
    ]);
  });

  it('a float where an integer is expected', () => {
    expect(problems(yaml('messaging_system:', '  queue:', '    batch_size: 2.5'))).toEqual([
      'f.yaml:3:17 messaging_system.queue.batch_size: expected an integer 1-10000, got 2.5',
    ]);
  });

  it('unknown key, with the nearest known key', () => {
    expect(problems(yaml('messaging_system:', '  network:', '    prot: 80'))).toEqual([
      'f.yaml:3:5 messaging_system.network.prot: unknown key; did you mean "port"?',
    ]);
    expect(problems(yaml('messaging_system:', '  netwrok: {}'))).toEqual([
      'f.yaml:2:3 messaging_system.netwrok: unknown key; did you mean "network"?',
    ]);
  });

  it('unknown key with nothing close', () => {
    expect(problems(yaml('messaging_system:', '  colour: blue'))).toEqual([
      'f.yaml:2:3 messaging_system.colour: unknown key',
    ]);
  });

  it('wrong enum value', () => {
    expect(problems(yaml('messaging_system:', '  logging:', '    level: verbose'))).toEqual([
      'f.yaml:3:12 messaging_system.logging.level: expected one of "trace", "debug", "info", "warn", "error", "fatal", "silent", got "verbose"',
    ]);
  });

  it('wrong type of a section', () => {
    expect(problems(yaml('messaging_system:', '  network: 5'))).toEqual([
      'f.yaml:2:12 messaging_system.network: expected a mapping, got 5',
    ]);
  });

  it('wrong writer type and a missing required key point at the item', () => {
    expect(
      problems(
        yaml('messaging_system:', '  logging:', '    writers:', '      - type: syslog', '      - type: file'),
      ),
    ).toEqual([
      'f.yaml:4:15 messaging_system.logging.writers[0].type: expected one of "console", "file", "rotating_file", got "syslog"',
      'f.yaml:5:9 messaging_system.logging.writers[1].path: missing required key, expected a non-empty string',
    ]);
  });

  it('a cross-field rule', () => {
    expect(problems(yaml('messaging_system:', '  tls:', '    enabled: true'))).toEqual([
      'f.yaml:3:5 messaging_system.tls: tls.enabled needs cert_path and key_path',
    ]);
  });

  it('missing root key', () => {
    expect(problems(yaml('network:', '  port: 1'))).toEqual([
      'f.yaml:1:1 messaging_system: missing root key, found "network"',
    ]);
    expect(problems(yaml('messaging_sytem:', '  network: {}'))).toEqual([
      'f.yaml:1:1 messaging_system: missing root key, found "messaging_sytem"; did you mean "messaging_system"?',
    ]);
  });

  it('a root that is not a mapping', () => {
    expect(problems(yaml('- a', '- b'))).toEqual([
      'f.yaml:1:1: expected a mapping with root key "messaging_system", got a list',
    ]);
  });

  it('a second root key next to messaging_system', () => {
    expect(problems(yaml('messaging_system: {}', 'extra: 1'))).toEqual(['f.yaml:2:1 extra: unknown key']);
  });

  it('empty file (and a file of only comments)', () => {
    const line = 'f.yaml: file is empty, expected a mapping with root key "messaging_system"';
    expect(problems('')).toEqual([line]);
    expect(problems('# nothing here\n\n')).toEqual([line]);
  });

  it('malformed YAML uses the parser position', () => {
    expect(problems(yaml('messaging_system:', '  network: [1, 2'))).toEqual([
      'f.yaml:3:1: malformed YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
    expect(problems(yaml('messaging_system:', '  network: {}', '  network: {}'))).toEqual([
      'f.yaml:3:3: malformed YAML: Map keys must be unique',
    ]);
    expect(problems(yaml('messaging_system:', '\tnetwork: {}'))).toEqual([
      'f.yaml:2:1: malformed YAML: Tabs are not allowed as indentation',
    ]);
  });

  it('secret values are never echoed', () => {
    const lines = problems(yaml('messaging_system:', '  auth:', '    tokens: [hunter2]'));
    expect(lines).toEqual([
      'f.yaml:3:14 messaging_system.auth.tokens[0]: expected a string of at least 16 characters, got a value (hidden: secret)',
    ]);
    expect(lines.join()).not.toContain('hunter2');
  });

  it('several problems: one line each, in file order', () => {
    expect(
      problems(
        yaml('messaging_system:', '  streams:', '    shards: 0', '  network:', '    port: -1', '    hots: x'),
      ),
    ).toEqual([
      'f.yaml:3:13 messaging_system.streams.shards: expected an integer 1-256, got 0',
      'f.yaml:5:11 messaging_system.network.port: expected an integer 0-65535, got -1',
      'f.yaml:6:5 messaging_system.network.hots: unknown key; did you mean "host"?',
    ]);
  });

  it('file does not exist; a directory is not a file', () => {
    const t = tempDir();
    try {
      const missing = `${t.dir}/nope.yaml`;
      expect(() => loadConfigFile(missing, {})).toThrow(new ConfigError([`${missing}: file does not exist`]));
      expect(() => loadConfigFile(t.dir, {})).toThrow(
        new ConfigError([`${t.dir}: is a directory, expected a YAML file`]),
      );
    } finally {
      t.cleanup();
    }
  });

  it('the error message is the lines, so printing it shows no stack', () => {
    const t = tempDir();
    try {
      const file = t.file('fleet.yaml', yaml('messaging_system:', '  network:', '    port: 80a'));
      let caught: unknown;
      try {
        loadConfigFile(file, {});
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).message).toBe(
        `${file}:3:11 messaging_system.network.port: expected an integer 0-65535, got "80a"`,
      );
    } finally {
      t.cleanup();
    }
  });
});
