/** What the logger hides: keys that hold secrets, and credentials inside URLs. */

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
export const REDACTED = '[Redacted]';

// scheme://user:password@host -> scheme://user:***@host (also inside longer text).
const URL_CREDENTIALS_RE = /([a-z][a-z0-9+.-]*:\/\/)([^\s:@/]*):([^\s@/]+)@/gi;
// key=value connection strings (libpq style): password=... and friends.
const KV_SECRET_RE = /\b(password|passwd|pwd|token|secret)=([^\s;&]+)/gi;

/** Removes passwords from URLs and key=value connection strings inside any text. */
export function redactUrl(text: string): string {
  if (!text.includes('@') && !text.includes('=')) return text;
  return text.replace(URL_CREDENTIALS_RE, '$1$2:***@').replace(KV_SECRET_RE, '$1=***');
}

/** pino redact censor: URL-ish keys keep their shape without the password; secrets vanish. */
export function censor(value: unknown, path: string[]): unknown {
  const key = path[path.length - 1];
  if (key !== undefined && URL_KEY_SET.has(key) && typeof value === 'string') return redactUrl(value);
  return REDACTED;
}
