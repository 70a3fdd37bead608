import type { FleetConfig } from './schema.js';
import { listFields } from './schema-walk.js';

/*
 * The fleet's one set of redaction rules: config output (redactConfig), log lines (the logger's redact
 * paths and error serializer, @fleet/tracing) and error texts (the persister's errorText) all use these.
 * Where the three earlier copies differed, the stricter rule won: passwords anywhere in text, a lone
 * token in a URL's user part (except postgres, where it is the role name), secret-looking query
 * parameters and libpq key=value secrets. User names stay (operators need them, they are not secrets).
 */

/** Text that replaces a secret inside a URL or connection string. */
const MASK = '***';

// [scheme:]//user[:password]@ : the password runs to the last '@' before the host (passwords may hold '@').
const URL_USERINFO_RE = /([a-z][a-z0-9+.-]*:)?\/\/([^\s:@/]*)(?::([^\s/]*))?@/gi;
// Query parameters whose name looks secret (?sslpassword=..., &token=...).
const SECRET_PARAM_RE =
  /([?&])([^=&#\s]*(?:pass|secret|token|key|auth|credential|sig)[^=&#\s]*)=([^&#\s]*)/gi;
// key=value connection strings (libpq style): password=... and friends.
const KV_SECRET_RE = /(^|[\s;])(\w*(?:password|passwd|pwd|token|secret)\w*)=([^\s;&]+)/gi;

/** Schemes where a lone user part (no password) is a name, not a token. */
const NAMED_USER_SCHEMES = new Set(['postgres:', 'postgresql:']);

/**
 * Hides credentials in a connection string or in any text that contains one (error messages, stacks):
 * URL passwords, a lone token in the user part (redis://token@host), secret-looking query parameters and
 * key=value secrets. Text without '@' or '=' is returned as is (the logger calls this on every error).
 */
export function redactUrl(text: string): string {
  if (!text.includes('@') && !text.includes('=')) return text;
  return text
    .replace(
      URL_USERINFO_RE,
      (all, scheme: string | undefined, user: string, password: string | undefined) => {
        const head = `${scheme ?? ''}//`;
        if (password) return `${head}${user}:${MASK}@`;
        if (user && !NAMED_USER_SCHEMES.has((scheme ?? '').toLowerCase())) return `${head}${MASK}@`;
        return all;
      },
    )
    .replace(SECRET_PARAM_RE, `$1$2=${MASK}`)
    .replace(KV_SECRET_RE, `$1$2=${MASK}`);
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
      node[last] = Array.isArray(v) ? v.map(() => MASK) : MASK;
    }
  }
  return copy as unknown as FleetConfig;
}

/** Log keys that hold secrets (their values vanish) and connection strings (their credentials are masked). */
const SECRET_KEYS = [
  'password',
  'passwd',
  'token',
  'access_token',
  'refresh_token',
  'secret',
  'api_key',
  'apiKey',
  'authorization',
  'Authorization',
  'cookie',
];
const URL_KEYS = [
  'url',
  'redis_url',
  'redisUrl',
  'database_url',
  'databaseUrl',
  'connection_string',
  'connectionString',
  'otlp_endpoint',
];

/** pino redact paths: each key at the top level, one level down and in headers. */
export const REDACT_PATHS: string[] = [...SECRET_KEYS, ...URL_KEYS].flatMap((k) => [
  k,
  `*.${k}`,
  `headers.${k}`,
  `*.headers.${k}`,
]);

const URL_KEY_SET = new Set(URL_KEYS);
/** What a secret-keyed log value becomes. */
export const REDACTED = '[Redacted]';

/** pino redact censor: URL-ish keys keep their shape without the password; secrets vanish. */
export function censor(value: unknown, path: string[]): unknown {
  const key = path[path.length - 1];
  if (key !== undefined && URL_KEY_SET.has(key) && typeof value === 'string') return redactUrl(value);
  return REDACTED;
}
