import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { diffConfig, reloadModeOf } from '../src/index.js';
import { levelAndPort, parse, recordingLogger, sleep, testTempDir, testWatcher, waitFor } from './helpers.js';

describe('restart-only fields', () => {
  it('a change warns once and is not applied; live fields in the same change are', async () => {
    const t = testTempDir();
    const file = t.file('fleet.yaml', levelAndPort('info', 7400));
    const { logger, lines } = recordingLogger();
    const w = testWatcher(file, { env: {}, logger });
    const seen: string[][] = [];
    w.watch((_cfg, keys) => seen.push(keys));
    await w.ready();

    writeFileSync(file, levelAndPort('info', 9000)); // restart-only change alone: nobody is called
    await waitFor(() => lines.warn.length === 1, 5_000, 'warning');
    expect(lines.warn[0]).toBe(
      `config ${file}: restart-only fields changed, not applied until restart: network.port`,
    );
    await sleep(50);
    expect(seen).toEqual([]);
    expect(w.current.network.port).toBe(7400);

    writeFileSync(file, levelAndPort('debug', 9000)); // live change, port still pending: no second warning
    await waitFor(() => seen.length === 1, 5_000, 'reload');
    expect(seen[0]).toEqual(['logging.level']);
    expect(w.current.logging.level).toBe('debug');
    expect(w.current.network.port).toBe(7400);
    expect(Object.isFrozen(w.current.network)).toBe(true);
    expect(lines.warn).toHaveLength(1);
  });

  it('diffConfig splits changed fields by reload mode', () => {
    const a = parse(levelAndPort('info', 1));
    const b = parse(levelAndPort('warn', 2));
    expect(diffConfig(a, b)).toEqual({ live: ['logging.level'], restart: ['network.port'] });
    expect(reloadModeOf('network.port')).toBe('restart');
    expect(reloadModeOf('logging.level')).toBe('live');
  });
});
