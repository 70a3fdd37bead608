/**
 * PostgreSQL `text` and `jsonb` cannot hold U+0000 (and jsonb rejects unpaired surrogates), while a valid
 * envelope can carry them. These helpers keep such values out of SQL so one bad message cannot fail a batch.
 */

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** True when Postgres `text` can store `s` as is. */
export function isPgText(s: string): boolean {
  return !s.includes('\0');
}

/** `s` with NUL and unpaired surrogates replaced by U+FFFD, cut to `maxLength` characters. */
export function toPgText(s: string, maxLength = Number.POSITIVE_INFINITY): string {
  let out = s.includes('\0') ? s.replaceAll('\0', '\uFFFD') : s;
  out = out.replace(LONE_SURROGATE, '\uFFFD');
  return out.length > maxLength ? `${out.slice(0, maxLength)}…[${out.length - maxLength} more]` : out;
}

/** JSON text for a jsonb column holding a string map (values made storable when needed). */
export function toPgJsonMap(map: Record<string, string>, maxValueLength?: number): string {
  const json = JSON.stringify(map);
  if (maxValueLength === undefined && !json.includes('\\u0000') && !/\\ud[89a-f]/i.test(json)) return json;
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(map)) clean[toPgText(k)] = toPgText(String(v), maxValueLength);
  return JSON.stringify(clean);
}

const NEEDS_ESCAPE = /["\\]/;
const ESCAPE = /["\\]/g;

/**
 * A Postgres array literal (`{"a","b",NULL}`) for a `$n::text[]` parameter, built in one pass. node-postgres
 * would build the same text itself, with several string allocations per element; on the ingest path that
 * is 10 arrays x thousands of rows per batch. Every element is quoted, so `NULL`, commas, braces and spaces
 * inside values stay values; `"` and `\` are backslash-escaped. Values must be storable text (isPgText).
 */
export function toPgTextArray(values: readonly (string | null | undefined)[]): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) parts[i] = 'NULL';
    else parts[i] = NEEDS_ESCAPE.test(v) ? `"${v.replace(ESCAPE, '\\$&')}"` : `"${v}"`;
  }
  return `{${parts.join(',')}}`;
}

/** A Postgres array literal for a `$n::int[]` / `float8[]` / `smallint[]` parameter (finite numbers). */
export function toPgNumberArray(values: readonly number[]): string {
  return `{${values.join(',')}}`;
}
