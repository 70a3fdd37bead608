import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { FleetConfig } from '../src/index.js';
import { levelAndPort, recordingLogger, sleep, testTempDir, testWatcher, waitFor } from './helpers.js';

describe('ConfigWatcher applies a valid change', () => {
  it('calls subscribers with the new config and the changed live keys', async () => {
    const t = testTempDir();
    const file = t.file('fleet.yaml', levelAndPort('info'));
    const { logger, lines } = recordingLogger();
    const reloads: boolean[] = [];
    const w = testWatcher(file, { env: {}, logger, onReload: (ok) => reloads.push(ok) });
    expect(w.current.logging.level).toBe('info');
    const seen: [FleetConfig, string[]][] = [];
    w.watch((cfg, keys) => seen.push([cfg, keys]));
    await w.ready();

    writeFileSync(
      file,
      levelAndPort('debug').replace('messaging_system:', 'messaging_system:\n  queue: {batch_size: 7}'),
    );
    await waitFor(() => seen.length === 1, 5_000, 'reload');
    const [cfg, keys] = seen[0]!;
    expect(keys).toEqual(['logging.level', 'queue.batch_size']);
    expect(cfg.logging.level).toBe('debug');
    expect(cfg.queue.batch_size).toBe(7);
    expect(w.current).toBe(cfg);
    expect(Object.isFrozen(cfg.logging)).toBe(true);
    expect(w.reloads).toBe(1);
    expect(w.failures).toBe(0);
    expect(reloads).toEqual([true]);
    expect(lines.info).toEqual([`config ${file} reloaded: logging.level, queue.batch_size`]);
  });

  it('does nothing when the text is unchanged or only comments change; unsubscribe stops delivery', async () => {
    const t = testTempDir();
    const file = t.file('fleet.yaml', levelAndPort('info'));
    const w = testWatcher(file, { env: {} });
    const seen: string[][] = [];
    const unsubscribe = w.watch((_cfg, keys) => seen.push(keys));
    await w.ready();

    writeFileSync(file, levelAndPort('info')); // same bytes
    writeFileSync(file, `# a comment\n${levelAndPort('info')}`); // same config
    await sleep(150);
    expect(seen).toEqual([]);

    unsubscribe();
    writeFileSync(file, levelAndPort('warn'));
    await waitFor(() => w.current.logging.level === 'warn', 5_000, 'reload');
    expect(seen).toEqual([]);
  });

  it('uses the environment captured at construction for overrides', async () => {
    const t = testTempDir();
    const file = t.file('fleet.yaml', levelAndPort('info'));
    const w = testWatcher(file, { env: { FLEET_QUEUE__BATCH_SIZE: '9' } });
    const seen: string[][] = [];
    w.watch((_cfg, keys) => seen.push(keys));
    await w.ready();
    writeFileSync(file, levelAndPort('error'));
    await waitFor(() => seen.length === 1, 5_000, 'reload');
    expect(seen[0]).toEqual(['logging.level']);
    expect(w.current.queue.batch_size).toBe(9);
  });
});
