import { parse as parseYaml } from 'yaml';
import { formatPath, listFields, nearestKey, schemaAt, unwrap } from './schema-walk.js';

/**
 * Environment overrides: ONE scheme.
 *   FLEET_<SECTION>__<FIELD>[__<SUBFIELD>...]  upper-case path segments below `messaging_system`
 *   joined by `__` (e.g. FLEET_NETWORK__PORT=0, FLEET_THREAD_POOLS__WORK__WORKERS=4).
 * The value is read as a YAML scalar or flow value (`4`, `true`, `[a, b]`, `{username: u, password: p}`)
 * and checked by the same schema as the file; string fields take the raw text unchanged.
 * Two aliases for deployment: FLEET_DATABASE_URL (database.connection_string) and FLEET_REDIS_URL
 * (redis.url). A `__` variable wins over an alias for the same field.
 * FLEET_ variables without `__` (other than the aliases) are not config and are ignored.
 */
export const ENV_PREFIX = 'FLEET_';
export const ENV_ALIASES: Readonly<Record<string, readonly string[]>> = {
  FLEET_DATABASE_URL: ['database', 'connection_string'],
  FLEET_REDIS_URL: ['redis', 'url'],
};

export interface EnvOverride {
  variable: string;
  path: string[];
  value: unknown;
  secret: boolean;
}

export function envVarFor(path: readonly string[]): string {
  return ENV_PREFIX + path.map((p) => p.toUpperCase()).join('__');
}

function parseEnvValue(raw: string, path: string[]): unknown {
  const { schema } = schemaAt(path, undefined);
  const kind = schema ? unwrap(schema)._zod.def.type : undefined;
  if (kind === 'string' || kind === 'enum' || kind === 'literal') return raw;
  try {
    return parseYaml(raw, { logLevel: 'error' }); // 'error': throws on errors, no warnings printed
  } catch {
    return raw; // the schema then says what was expected
  }
}

/** Reads the overrides present in `env`; problems (unknown variables) are returned as lines. */
export function readEnvOverrides(env: NodeJS.ProcessEnv): { overrides: EnvOverride[]; problems: string[] } {
  const overrides: EnvOverride[] = [];
  const problems: string[] = [];
  const add = (variable: string, path: string[], raw: string) => {
    const { secret } = schemaAt(path, undefined);
    overrides.push({ variable, path, value: parseEnvValue(raw, path), secret });
  };
  for (const [variable, path] of Object.entries(ENV_ALIASES)) {
    const raw = env[variable];
    if (raw !== undefined && env[envVarFor(path)] === undefined) add(variable, [...path], raw);
  }
  const names = Object.keys(env)
    .filter((k) => k.startsWith(ENV_PREFIX) && k.includes('__'))
    .sort();
  for (const variable of names) {
    const raw = env[variable];
    if (raw === undefined) continue;
    const path = variable.slice(ENV_PREFIX.length).toLowerCase().split('__');
    if (path.some((p) => p === '') || !schemaAt(path, undefined).schema) {
      const known = listFields().map((f) => envVarFor(f.path));
      const hint = nearestKey(variable, known);
      problems.push(
        `env ${variable}: unknown key ${formatPath(['messaging_system', ...path])}` +
          (hint ? `; did you mean ${hint}?` : ''),
      );
      continue;
    }
    add(variable, path, raw);
  }
  return { overrides, problems };
}

/** Writes the overrides into a plain document (creating missing mappings on the way). */
export function applyEnvOverrides(root: Record<string, unknown>, overrides: readonly EnvOverride[]): void {
  for (const o of overrides) {
    let node = root;
    for (const seg of o.path.slice(0, -1)) {
      const next = node[seg];
      if (next === null || typeof next !== 'object' || Array.isArray(next)) node[seg] = {};
      node = node[seg] as Record<string, unknown>;
    }
    node[o.path[o.path.length - 1]!] = o.value;
  }
}
