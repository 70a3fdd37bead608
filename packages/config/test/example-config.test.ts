import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CONFIG_DOCS_PATH,
  defaultConfig,
  listFields,
  loadConfigFile,
  normalizeDocs,
  renderConfigDocs,
} from '../src/index.js';

const example = new URL('../../../config/fleet.yaml', import.meta.url).pathname;

describe('the shipped example and reference', () => {
  it('config/fleet.yaml loads and mentions every field', () => {
    const cfg = loadConfigFile(example, {});
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(Object.isFrozen(cfg.network)).toBe(true);
    expect(cfg.handlers.modules).toEqual(['../examples/handlers/index.ts']);
    expect(cfg.ops.host).toBe('127.0.0.1');
    const text = readFileSync(example, 'utf8');
    for (const f of listFields()) expect(text, f.key).toContain(`${f.path[f.path.length - 1]}:`);
  });

  it('defaults are frozen and complete', () => {
    const d = defaultConfig();
    expect(Object.isFrozen(d.thread_pools.work)).toBe(true);
    expect(d.network.port).toBe(7400);
  });

  it('every field is documented with live/restart', () => {
    for (const f of listFields()) {
      expect(f.meta.description.length, f.key).toBeGreaterThan(5);
      expect(['live', 'restart']).toContain(f.meta.reload);
    }
  });

  it('docs/configuration.md is up to date (npm run docs:config -w @fleet/config)', () => {
    expect(normalizeDocs(readFileSync(CONFIG_DOCS_PATH, 'utf8'))).toBe(normalizeDocs(renderConfigDocs()));
  });
});

describe('resolveConfigPath', () => {
  it('resolves handler modules against the config file directory', async () => {
    const { resolveConfigPath } = await import('../src/index.js');
    expect(resolveConfigPath('/etc/fleet/fleet.yaml', '../examples/h.ts')).toBe('/etc/examples/h.ts');
    expect(resolveConfigPath('/etc/fleet/fleet.yaml', '/abs/h.ts')).toBe('/abs/h.ts');
  });
});
