import { renameSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { levelAndPort, testTempDir, testWatcher, waitFor } from './helpers.js';

describe('ConfigWatcher survives editors that save by rename', () => {
  it('atomic write: temp file renamed over the config, several times in a row', async () => {
    const t = testTempDir();
    const file = t.file('fleet.yaml', levelAndPort('info'));
    const w = testWatcher(file, { env: {} });
    const seen: string[] = [];
    w.watch((cfg) => seen.push(cfg.logging.level));
    await w.ready();
    for (const level of ['debug', 'warn', 'error']) {
      const tmp = t.file(`.fleet.yaml.${level}.tmp`, levelAndPort(level));
      renameSync(tmp, file);
      await waitFor(() => w.current.logging.level === level, 5_000, level);
    }
    expect(seen).toEqual(['debug', 'warn', 'error']);
  });

  it('vim style: original moved to a backup, new file written at the path', async () => {
    const t = testTempDir();
    const file = t.file('fleet.yaml', levelAndPort('info'));
    const w = testWatcher(file, { env: {} });
    const seen: string[][] = [];
    w.watch((_cfg, keys) => seen.push(keys));
    await w.ready();
    renameSync(file, `${file}~`);
    writeFileSync(file, levelAndPort('trace'));
    await waitFor(() => w.current.logging.level === 'trace', 5_000, 'reload');
    expect(seen).toEqual([['logging.level']]);
    // The new inode keeps being watched.
    writeFileSync(file, levelAndPort('fatal'));
    await waitFor(() => w.current.logging.level === 'fatal', 5_000, 'second reload');
  });
});
