import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type ConfigError, ConfigWatcher } from '../src/index.js';
import { levelAndPort, recordingLogger, testTempDir, testWatcher, waitFor } from './helpers.js';

describe('ConfigWatcher rejects an invalid file', () => {
  it('keeps the last good config, logs one error and counts the failure', async () => {
    const t = testTempDir();
    const file = t.file('fleet.yaml', levelAndPort('info'));
    const { logger, lines } = recordingLogger();
    const invalid: ConfigError[] = [];
    const outcomes: boolean[] = [];
    const w = testWatcher(file, {
      env: {},
      logger,
      onInvalid: (e) => invalid.push(e),
      onReload: (ok) => outcomes.push(ok),
    });
    const seen: string[][] = [];
    w.watch((_cfg, keys) => seen.push(keys));
    await w.ready();
    const before = w.current;

    writeFileSync(file, levelAndPort('loud'));
    await waitFor(() => w.failures === 1, 5_000, 'failure');
    expect(w.current).toBe(before);
    expect(seen).toEqual([]);
    expect(invalid[0]!.problems).toEqual([
      `${file}:5:12 messaging_system.logging.level: expected one of "trace", "debug", "info", "warn", "error", "fatal", "silent", got "loud"`,
    ]);
    expect(lines.error).toEqual([
      `config ${file} rejected, keeping the last good config: ${invalid[0]!.problems[0]}`,
    ]);
    expect(outcomes).toEqual([false]);

    // Fixing the file applies it.
    writeFileSync(file, levelAndPort('debug'));
    await waitFor(() => seen.length === 1, 5_000, 'reload');
    expect(seen[0]).toEqual(['logging.level']);
    expect(w.failures).toBe(1);
    expect(w.reloads).toBe(1);
  });

  it('a deleted file keeps the config and counts a failure; the file coming back reloads', async () => {
    const t = testTempDir();
    const file = t.file('fleet.yaml', levelAndPort('info'));
    const { logger, lines } = recordingLogger();
    const w = testWatcher(file, { env: {}, logger, settleMs: 10 });
    w.watch(() => {});
    await w.ready();
    const { rmSync } = await import('node:fs');
    rmSync(file);
    await waitFor(() => w.failures === 1, 5_000, 'failure');
    expect(lines.error[0]).toContain(`${file}: file does not exist`);
    writeFileSync(file, levelAndPort('warn'));
    await waitFor(() => w.current.logging.level === 'warn', 5_000, 'reload');
  });

  it('the constructor throws a ConfigError for an invalid initial file', () => {
    const t = testTempDir();
    const file = t.file('fleet.yaml', levelAndPort('loud'));
    expect(() => new ConfigWatcher(file, { env: {} })).toThrow(/got "loud"/);
  });
});
