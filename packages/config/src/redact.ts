import type { FleetConfig } from './schema.js';
import { listFields } from './schema-walk.js';

const SECRET_PARAM = /pass|secret|token|key|auth|credential|sig/i;

/**
 * Hides credentials in a connection string: the password (or a lone token in the user part, as in
 * redis://:token@host or redis://token@host) and query parameters that look secret.
 * Strings that are not URLs get any `user:password@` pattern masked.
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url.replace(/\/\/([^/@\s:]*):([^/@\s]*)@/g, '//$1:***@');
  }
  if (u.password) u.password = '***';
  else if (u.username && /^(redis|rediss):$/.test(u.protocol)) u.username = '***';
  for (const k of [...u.searchParams.keys()]) if (SECRET_PARAM.test(k)) u.searchParams.set(k, '***');
  // URL re-encodes '*' in some positions; keep the mask readable.
  return u.toString().replace(/%2A%2A%2A/gi, '***');
}

/** A copy of the config with every secret field (schema meta `secret`) replaced by "***". */
export function redactConfig(cfg: FleetConfig): FleetConfig {
  const copy = structuredClone(cfg) as unknown as Record<string, unknown>;
  for (const field of listFields()) {
    if (!field.meta.secret) continue;
    let node: Record<string, unknown> | undefined = copy;
    for (const seg of field.path.slice(0, -1)) node = node?.[seg] as Record<string, unknown> | undefined;
    const last = field.path[field.path.length - 1]!;
    if (node && node[last] !== undefined) {
      const v = node[last];
      node[last] = Array.isArray(v) ? v.map(() => '***') : '***';
    }
  }
  return copy as unknown as FleetConfig;
}
