import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FleetConfig } from '@fleet/config';
import { errorMessage, PatternError, type RouterLogger, type TopicRouter } from '@fleet/router';

/** What a handler module's register function receives besides the router. */
export interface HandlerModuleContext {
  logger: RouterLogger;
  config: FleetConfig;
}

/** A handler module's export: `export default function (router, ctx) {...}` or `export function register`. */
export type RegisterHandlers = (router: TopicRouter, ctx: HandlerModuleContext) => void | Promise<void>;

/** One line naming the module and the reason (printed as-is at start; no stack). */
export class HandlerLoadError extends Error {
  override readonly name = 'HandlerLoadError';
  constructor(
    readonly module: string,
    readonly reason: string,
  ) {
    super(`handler module ${module}: ${reason}`);
  }
}

function firstLine(err: unknown): string {
  return errorMessage(err).split('\n')[0]!.trim();
}

/**
 * Handler modules may be TypeScript (.ts, .mts, .cts): Node 24 strips the types itself, in development
 * and in the bundled production worker alike. Strip-only mode refuses syntax that needs code generated
 * (enums, namespaces with values, parameter properties, `import x = require()`): say so in one line
 * instead of Node's multi-line SyntaxError.
 */
const TYPE_STRIPPING_HINT =
  "Node runs TypeScript handler modules with their types stripped only: enums, namespaces, parameter properties and `import x = require()` are refused, and .tsx (JSX) is not supported (docs/operations.md, 'TypeScript handler modules')";
const TYPE_STRIPPING_ERRORS = new Set([
  'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX',
  'ERR_UNKNOWN_FILE_EXTENSION',
  'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING',
]);

function importFailure(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const hint = typeof code === 'string' && TYPE_STRIPPING_ERRORS.has(code) ? `; ${TYPE_STRIPPING_HINT}` : '';
  return `failed to import: ${firstLine(err)}${hint}`;
}

/** Resolves a configured module path against the config file's directory. */
export function resolveHandlerModule(spec: string, baseDir: string): string {
  return resolve(baseDir, spec);
}

/**
 * Imports each module and calls its register function on `router`, in list order. Throws
 * HandlerLoadError at the first failure (the caller decides whether that router is used at all).
 */
export async function loadHandlerModules(
  router: TopicRouter,
  modules: readonly string[],
  baseDir: string,
  ctx: HandlerModuleContext,
): Promise<void> {
  for (const spec of modules) {
    const file = resolveHandlerModule(spec, baseDir);
    if (!existsSync(file)) throw new HandlerLoadError(spec, `not found (${file})`);
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (err) {
      throw new HandlerLoadError(spec, importFailure(err));
    }
    const register = pickRegister(mod);
    if (!register)
      throw new HandlerLoadError(spec, 'exports neither a default function nor a register function');
    try {
      await register(router, ctx);
    } catch (err) {
      if (err instanceof PatternError) throw new HandlerLoadError(spec, err.message);
      throw new HandlerLoadError(spec, `register failed: ${firstLine(err)}`);
    }
  }
}

function pickRegister(mod: Record<string, unknown>): RegisterHandlers | undefined {
  const candidates = [mod.default, mod.register];
  // CommonJS modules imported from ESM arrive as { default: module.exports }.
  const inner = mod.default;
  if (inner && typeof inner === 'object') {
    candidates.push((inner as Record<string, unknown>).default, (inner as Record<string, unknown>).register);
  }
  return candidates.find((c): c is RegisterHandlers => typeof c === 'function');
}
