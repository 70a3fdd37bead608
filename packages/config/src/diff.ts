import type { FleetConfig } from './schema.js';
import { listFields } from './schema-walk.js';

/** Changed documented fields between two configs, split by how a change is applied. */
export interface ConfigDiff {
  /** Dotted paths of changed fields applied on hot reload. */
  live: string[];
  /** Dotted paths of changed fields that need a restart. */
  restart: string[];
}

function get(cfg: unknown, path: readonly string[]): unknown {
  let v = cfg;
  for (const seg of path)
    v = v === null || typeof v !== 'object' ? undefined : (v as Record<string, unknown>)[seg];
  return v;
}

const same = (a: unknown, b: unknown) => a === b || JSON.stringify(a) === JSON.stringify(b);

export function diffConfig(before: FleetConfig, after: FleetConfig): ConfigDiff {
  const live: string[] = [];
  const restart: string[] = [];
  for (const field of listFields()) {
    if (same(get(before, field.path), get(after, field.path))) continue;
    (field.meta.reload === 'live' ? live : restart).push(field.key);
  }
  return { live, restart };
}

/** `after` with the given fields put back to their value in `before` (restart-only fields on reload). */
export function keepFields(before: FleetConfig, after: FleetConfig, keys: readonly string[]): FleetConfig {
  const copy = structuredClone(after) as unknown as Record<string, unknown>;
  for (const key of keys) {
    const path = key.split('.');
    let node = copy;
    for (const seg of path.slice(0, -1)) node = node[seg] as Record<string, unknown>;
    const last = path[path.length - 1]!;
    const old = get(before, path);
    if (old === undefined) delete node[last];
    else node[last] = structuredClone(old);
  }
  return copy as unknown as FleetConfig;
}

/** Whether a documented field (dotted path below messaging_system) is applied live or needs a restart. */
export function reloadModeOf(key: string): 'live' | 'restart' | undefined {
  return listFields().find((f) => f.key === key)?.meta.reload;
}
