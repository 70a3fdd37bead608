import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { type Document, isMap, LineCounter, parseDocument, YAMLError } from 'yaml';
import type { z } from 'zod';
import { applyEnvOverrides, type EnvOverride, readEnvOverrides } from './env-overrides.js';
import { ConfigError } from './errors.js';
import { deepFreeze } from './freeze.js';
import { configFileSchema, type FleetConfig, messagingSystemSchema } from './schema.js';
import {
  describeSchema,
  formatPath,
  knownKeys,
  nearestKey,
  type PathSegment,
  schemaAt,
  showValue,
  unwrap,
} from './schema-walk.js';
import { lineCol, locate } from './yaml-locate.js';

export const ROOT_KEY = 'messaging_system';

export interface ParseOptions {
  /** Name of the file in error lines (as the user gave it). */
  file: string;
  /** Environment for overrides; defaults to process.env. Pass {} to ignore the environment. */
  env?: NodeJS.ProcessEnv;
}

/** The defaults of every field, frozen. */
export function defaultConfig(): FleetConfig {
  return deepFreeze(messagingSystemSchema.parse({}));
}

/** Reads, validates and freezes a config file; throws ConfigError (one line per problem). */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): FleetConfig {
  return parseConfig(readConfigText(path), { file: path, env });
}

/** Resolves a path written in a config file (e.g. handlers.modules) against that file's directory. */
export function resolveConfigPath(configFile: string, p: string): string {
  return isAbsolute(p) ? p : resolve(dirname(resolve(configFile)), p);
}

/** Reads a config file's text, turning fs errors into a one-line ConfigError. */
export function readConfigText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'file does not exist'
        : code === 'EISDIR'
          ? 'is a directory, expected a YAML file'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : `cannot read file (${code ?? (err as Error).message})`;
    throw new ConfigError([`${path}: ${why}`]);
  }
}

interface Positioned {
  offset?: number;
  line: string;
}

/** Parses and validates YAML text; throws ConfigError (one line per problem). */
export function parseConfig(text: string, opts: ParseOptions): FleetConfig {
  const file = opts.file;
  const env = opts.env ?? process.env;
  const counter = new LineCounter();
  let doc: Document;
  let data: unknown;
  try {
    doc = parseDocument(text, {
      lineCounter: counter,
      prettyErrors: false,
      uniqueKeys: true,
      logLevel: 'error',
    });
    if (doc.errors.length > 0) throw new ConfigError(doc.errors.map((e) => yamlErrorLine(file, counter, e)));
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const msg =
      err instanceof YAMLError
        ? yamlErrorLine(file, counter, err)
        : `${file}: malformed YAML: ${firstLine(err)}`;
    throw new ConfigError([msg]);
  }

  if (text.trim() === '' || data === null || data === undefined) {
    throw new ConfigError([`${file}: file is empty, expected a mapping with root key "${ROOT_KEY}"`]);
  }
  const at = (offset: number | undefined) => `${file}${lineCol(counter, offset)}`;
  const rootOffset = doc.contents?.range?.[0];
  if (!isMap(doc.contents) || typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError([
      `${at(rootOffset)}: expected a mapping with root key "${ROOT_KEY}", got ${showValue(data)}`,
    ]);
  }
  const root = data as Record<string, unknown>;
  if (!(ROOT_KEY in root)) {
    const other = Object.keys(root);
    const hint = nearestKey(other[0] ?? '', [ROOT_KEY]);
    throw new ConfigError([
      `${at(rootOffset)} ${ROOT_KEY}: missing root key` +
        (other.length > 0 ? `, found ${other.map((k) => JSON.stringify(k)).join(', ')}` : '') +
        (hint ? `; did you mean "${ROOT_KEY}"?` : ''),
    ]);
  }

  if (root[ROOT_KEY] === null) root[ROOT_KEY] = {};
  const system = root[ROOT_KEY];
  const isMapping = typeof system === 'object' && system !== null && !Array.isArray(system);
  if (isMapping)
    for (const k of Object.keys(system))
      dropEmptySections(system as Record<string, unknown>, k, messagingSystemSchema);
  const { overrides, problems: envProblems } = readEnvOverrides(env);
  if (isMapping && overrides.length > 0) applyEnvOverrides(system as Record<string, unknown>, overrides);

  const result = configFileSchema.safeParse(root);
  if (result.success && envProblems.length === 0) return deepFreeze(result.data.messaging_system);

  const lines: Positioned[] = [];
  for (const issue of result.success ? [] : result.error.issues) {
    lines.push(...issueLines(issue, { doc, root, overrides, at }));
  }
  // In file order; env problems after the file's.
  const sorted = [
    ...lines.filter((l) => l.offset !== undefined).sort((a, b) => a.offset! - b.offset!),
    ...lines.filter((l) => l.offset === undefined),
  ].map((l) => l.line);
  throw new ConfigError([...new Set([...sorted, ...envProblems])]);
}

/**
 * `network:` with every child commented out parses as null: treat such empty sections as absent so
 * their defaults apply, instead of failing with "expected a mapping, got null".
 */
function dropEmptySections(node: Record<string, unknown>, key: string, parentSchema: z.ZodType): void {
  const childSchema = schemaAt([key], node, parentSchema).schema;
  if (!childSchema || unwrap(childSchema)._zod.def.type !== 'object') return;
  const value = node[key];
  if (value === null) {
    delete node[key];
    return;
  }
  if (typeof value !== 'object' || Array.isArray(value)) return;
  for (const k of Object.keys(value as object))
    dropEmptySections(value as Record<string, unknown>, k, childSchema);
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0]!;
}

function yamlErrorLine(file: string, counter: LineCounter, e: YAMLError): string {
  const where = e.pos ? lineCol(counter, e.pos[0]) : '';
  return `${file}${where}: malformed YAML: ${firstLine(e)}`;
}

interface IssueContext {
  doc: Document;
  root: Record<string, unknown>;
  overrides: readonly EnvOverride[];
  at: (offset: number | undefined) => string;
}

function valueAt(root: unknown, path: readonly PathSegment[]): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[String(seg)];
  }
  return v;
}

/** The env override that supplied this path (or an ancestor of it), if any. */
function overrideFor(
  overrides: readonly EnvOverride[],
  path: readonly PathSegment[],
): EnvOverride | undefined {
  const rel = path.slice(1).map(String);
  return overrides.find((o) => o.path.length <= rel.length && o.path.every((p, i) => p === rel[i]));
}

function issueLines(issue: z.core.$ZodIssue, ctx: IssueContext): Positioned[] {
  const path = issue.path as PathSegment[];
  const rel = path.slice(1);
  const env = overrideFor(ctx.overrides, path);
  const located = locate(ctx.doc, path);

  if (issue.code === 'unrecognized_keys') {
    const parentSchema = schemaAt(rel, ctx.root[ROOT_KEY]).schema;
    return issue.keys.map((key) => {
      const keyPath = [...path, key];
      const loc = locate(ctx.doc, keyPath);
      const hint = nearestKey(key, path.length === 0 ? [ROOT_KEY] : knownKeys(parentSchema));
      const offset = loc.keyOffset ?? located.valueOffset;
      return {
        offset,
        line:
          `${ctx.at(offset)} ${formatPath(keyPath)}: unknown key` + (hint ? `; did you mean "${hint}"?` : ''),
      };
    });
  }

  const value = valueAt(ctx.root, path);
  const { schema, secret } = schemaAt(rel, ctx.root[ROOT_KEY]);
  const hidden = secret || env?.secret === true;
  const got = hidden ? 'a value (hidden: secret)' : showValue(value);
  let expected: string | undefined;
  if (issue.code === 'invalid_value')
    expected = `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  else if (issue.code === 'invalid_union' && 'options' in issue && Array.isArray(issue.options)) {
    expected = `one of ${(issue.options as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  } else if (issue.code !== 'custom' && schema) expected = describeSchema(schema);

  const what =
    expected === undefined
      ? issue.message
      : value === undefined
        ? `missing required key, expected ${expected}`
        : `expected ${expected}, got ${got}`;

  if (env) return [{ line: `env ${env.variable} ${formatPath(path)}: ${what}` }];
  const offset =
    value === undefined ? located.ancestorOffset : (located.valueOffset ?? located.ancestorOffset);
  return [{ offset, line: `${ctx.at(offset)} ${formatPath(path)}: ${what}` }];
}
