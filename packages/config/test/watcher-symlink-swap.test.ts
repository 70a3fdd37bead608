import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { levelAndPort, testTempDir, testWatcher, waitFor } from './helpers.js';

/** What the kubelet does for a ConfigMap volume: files under ..<version>, ..data -> it, swapped by rename. */
function configMapVersion(dir: string, version: string, text: string): void {
  mkdirSync(join(dir, `..${version}`));
  writeFileSync(join(dir, `..${version}`, 'fleet.yaml'), text);
  symlinkSync(`..${version}`, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
}

describe('ConfigWatcher follows a Kubernetes ConfigMap symlink swap', () => {
  it('sees ..data swapped to a new version directory', async () => {
    const t = testTempDir();
    configMapVersion(t.dir, 'v1', levelAndPort('info'));
    symlinkSync('..data/fleet.yaml', join(t.dir, 'fleet.yaml'));
    const file = join(t.dir, 'fleet.yaml');

    const w = testWatcher(file, { env: {} });
    const seen: string[][] = [];
    w.watch((_cfg, keys) => seen.push(keys));
    await w.ready();
    expect(w.current.logging.level).toBe('info');

    configMapVersion(t.dir, 'v2', levelAndPort('debug'));
    await waitFor(() => w.current.logging.level === 'debug', 5_000, 'swap to v2');
    configMapVersion(t.dir, 'v3', levelAndPort('warn'));
    await waitFor(() => w.current.logging.level === 'warn', 5_000, 'swap to v3');
    expect(seen).toEqual([['logging.level'], ['logging.level']]);
  });
});
