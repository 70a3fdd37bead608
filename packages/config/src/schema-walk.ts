import { z } from 'zod';
import { type FieldMeta, messagingSystemSchema } from './schema.js';

/**
 * Introspection of the zod schema: the documented fields (those carrying FieldMeta), the schema at a
 * YAML path, and a plain-English description of what a field expects. Used by error messages, env
 * overrides, hot reload (live vs restart) and the generated reference docs, so all four agree.
 */

// biome-ignore lint/suspicious/noExplicitAny: zod's internal def is untyped across schema kinds.
type AnySchema = z.ZodType & { _zod: { def: any } };
export type PathSegment = string | number;

export interface FieldInfo {
  /** Path below `messaging_system`, e.g. ['network', 'port']. */
  path: string[];
  /** Dotted form, e.g. 'network.port'. */
  key: string;
  schema: AnySchema;
  meta: FieldMeta;
  /** Default value (undefined when the field is optional without a default). */
  defaultValue: unknown;
}

const WRAPPERS = new Set(['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch', 'nonoptional']);

export function metaOf(schema: z.ZodType): FieldMeta | undefined {
  const m = z.globalRegistry.get(schema) as Partial<FieldMeta> | undefined;
  return m && typeof m.description === 'string' && (m.reload === 'live' || m.reload === 'restart')
    ? (m as FieldMeta)
    : undefined;
}

/** Strips default/optional/prefault wrappers down to the schema that checks the value. */
export function unwrap(schema: z.ZodType): AnySchema {
  let s = schema as AnySchema;
  while (WRAPPERS.has(s._zod.def.type)) s = s._zod.def.innerType as AnySchema;
  return s;
}

function objectShape(schema: z.ZodType): Record<string, AnySchema> | undefined {
  const s = unwrap(schema);
  return s._zod.def.type === 'object' ? (s._zod.def.shape as Record<string, AnySchema>) : undefined;
}

/** Keys a mapping at this schema accepts (for "did you mean" hints). */
export function knownKeys(schema: z.ZodType | undefined): string[] {
  if (!schema) return [];
  const s = unwrap(schema);
  if (s._zod.def.type === 'union') {
    const keys = new Set<string>();
    for (const o of s._zod.def.options as AnySchema[]) for (const k of knownKeys(o)) keys.add(k);
    return [...keys];
  }
  return Object.keys(objectShape(s) ?? {});
}

function discriminatedOption(union: AnySchema, value: unknown): AnySchema | undefined {
  const disc = union._zod.def.discriminator as string | undefined;
  const options = union._zod.def.options as AnySchema[];
  if (!disc || typeof value !== 'object' || value === null) return undefined;
  const tag = (value as Record<string, unknown>)[disc];
  return options.find((o) => objectShape(o)?.[disc]?._zod.def.values?.includes(tag));
}

/**
 * The schema at `path` (relative to `root`), following arrays and discriminated unions (using `value`,
 * the document being checked, to choose the union option). Also reports whether any field on the way
 * is secret, so its value is never shown.
 */
export function schemaAt(
  path: readonly PathSegment[],
  value: unknown,
  root: z.ZodType = messagingSystemSchema,
): { schema: AnySchema | undefined; secret: boolean; parent: AnySchema | undefined } {
  let s: AnySchema | undefined = root as AnySchema;
  let parent: AnySchema | undefined;
  let v = value;
  let secret = metaOf(root)?.secret === true;
  for (const seg of path) {
    if (!s) break;
    parent = s;
    let u = unwrap(s);
    if (u._zod.def.type === 'union') u = discriminatedOption(u, v) ?? u;
    const kind = u._zod.def.type;
    if (kind === 'object') s = (u._zod.def.shape as Record<string, AnySchema>)[String(seg)];
    else if (kind === 'array') s = u._zod.def.element as AnySchema;
    else s = undefined;
    v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[String(seg)] : undefined;
    if (s && metaOf(s)?.secret) secret = true;
  }
  return { schema: s, secret, parent };
}

let fieldsCache: readonly FieldInfo[] | undefined;

/** Every documented field of `messaging_system`, in schema order (computed once). */
export function listFields(): readonly FieldInfo[] {
  if (fieldsCache) return fieldsCache;
  const out: FieldInfo[] = [];
  const visit = (schema: AnySchema, path: string[]): void => {
    const meta = metaOf(schema);
    if (meta) {
      const d = schema._zod.def.type === 'default' ? schema._zod.def.defaultValue : undefined;
      out.push({ path, key: path.join('.'), schema, meta, defaultValue: d });
      return;
    }
    const shape = objectShape(schema);
    if (shape) for (const [k, child] of Object.entries(shape)) visit(child, [...path, k]);
  };
  visit(messagingSystemSchema as unknown as AnySchema, []);
  fieldsCache = out;
  return out;
}

/** Plain-English expectation, e.g. "an integer 0-65535", "one of \"info\", \"debug\"", "a list of strings". */
export function describeSchema(schema: z.ZodType, plural = false): string {
  const s = unwrap(schema);
  const def = s._zod.def;
  const a = (one: string, many: string) => (plural ? many : one);
  switch (def.type) {
    case 'number': {
      const n = s as unknown as z.ZodNumber;
      const isInt = n.isInt || n.format === 'safeint' || n.format === 'int32';
      const lo = Number.isFinite(n.minValue) && Math.abs(n.minValue ?? 0) < 2 ** 52 ? n.minValue : null;
      const hi = Number.isFinite(n.maxValue) && Math.abs(n.maxValue ?? 0) < 2 ** 52 ? n.maxValue : null;
      const base = isInt ? a('an integer', 'integers') : a('a number', 'numbers');
      if (lo !== null && hi !== null) return `${base} ${lo}-${hi}`;
      if (lo !== null) return `${base} >= ${lo}`;
      if (hi !== null) return `${base} <= ${hi}`;
      return base;
    }
    case 'string': {
      const str = s as unknown as z.ZodString;
      if (str.format === 'url') return a('a URL', 'URLs');
      const regex = (def.checks ?? [])
        .map((c: AnySchema) => c._zod.def)
        .find((d: { format?: string }) => d.format === 'regex');
      if (regex) return `${a('a string', 'strings')} matching ${String(regex.pattern)}`;
      const min = str.minLength ?? 0;
      if (min > 1) return `${a('a string', 'strings')} of at least ${min} characters`;
      if (min === 1) return a('a non-empty string', 'non-empty strings');
      return a('a string', 'strings');
    }
    case 'boolean':
      return a('true or false', 'booleans');
    case 'enum':
      return `one of ${(Object.values(def.entries) as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'literal':
      return (def.values as unknown[]).map((v) => JSON.stringify(v)).join(' or ');
    case 'array':
      return `${a('a list', 'lists')} of ${describeSchema(def.element, true)}`;
    case 'object': {
      const keys = Object.keys(def.shape);
      return a('a mapping', 'mappings') + (keys.length <= 4 ? ` {${keys.join(', ')}}` : '');
    }
    case 'union': {
      if (def.discriminator) {
        const tags = (def.options as AnySchema[]).flatMap(
          (o) => objectShape(o)?.[def.discriminator]?._zod.def.values ?? [],
        );
        return `${a('a mapping', 'mappings')} with ${def.discriminator} one of ${tags.map((t: unknown) => JSON.stringify(t)).join(', ')}`;
      }
      return (def.options as AnySchema[]).map((o) => describeSchema(o, plural)).join(' or ');
    }
    default:
      return a(`a ${def.type}`, `${def.type} values`);
  }
}

/** A short description of a config value for "got ..." (never used for secrets). */
export function showValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null (empty value)';
  if (typeof v === 'string') {
    const j = JSON.stringify(v);
    return j.length > 60 ? `${j.slice(0, 57)}..."` : j;
  }
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

/** Display form of a path: messaging_system.logging.writers[0].type */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}

/** Damerau-free Levenshtein distance; small inputs only (config keys). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** The nearest known key when it is close enough to be a likely typo. */
export function nearestKey(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = editDistance(key.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  const limit = Math.max(2, Math.floor(key.length / 3));
  return best !== undefined && bestD <= limit ? best : undefined;
}
