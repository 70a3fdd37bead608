// Runs Fleet's TypeScript sources on Node's own TypeScript support, without tsx:
//   node --import ./scripts/register-ts.mjs apps/worker/src/main.ts --config fleet.yaml
// Node strips types by itself; two things it does not do for these sources, and this hook does:
//  - resolve `./x.js` to `./x.ts`: the sources import with .js (the NodeNext convention tsc checks);
//  - parameter properties and enums (strip-only mode refuses them): Fleet's own sources go through
//    node:module's stripTypeScriptTypes in 'transform' mode;
//  - the `fleet-source` export condition for Fleet's own sources: @fleet/client's package.json points its
//    published entry at the build (dist/), and at src/ under that condition (as tsconfig's customConditions
//    and vitest.config.ts do), so nothing in the repository needs a build first.
// Handler modules (examples/, the worker's handler fixtures, anything outside this repository) are left to
// Node's default strip-only loading, exactly as the bundled production worker loads them.
// On a Node older than 24 this stops with one line (or re-runs on .tools/node24) before anything else:
// a namespace import, because a named import of registerHooks would fail to link on Node 20.
import './require-node.mjs';
import * as nodeModule from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const FLEET_SOURCE_DIRS = ['apps', 'packages', 'bench', 'scripts', 'test'];
const HANDLER_DIRS = ['examples/', 'apps/worker/test/fixtures/'];
const SOURCE_CONDITION = 'fleet-source';
const TS_FORMATS = { 'module-typescript': 'module', 'commonjs-typescript': 'commonjs' };

function isFleetSource(url) {
  if (!url?.startsWith('file:')) return false;
  const rel = relative(root, fileURLToPath(url)).split(sep).join('/');
  if (rel.startsWith('..') || rel.includes('node_modules/')) return false;
  if (HANDLER_DIRS.some((d) => rel.startsWith(d))) return false;
  return FLEET_SOURCE_DIRS.includes(rel.split('/')[0]);
}

// stripTypeScriptTypes is experimental in Node 24 and warns on first use: one stderr line in every
// process, which the apps' one-line-error contracts and the tests reading stderr would see. Drop that one.
const emitWarning = process.emitWarning;
process.emitWarning = function (warning, ...rest) {
  if (String(warning).startsWith('stripTypeScriptTypes is an experimental')) return;
  return emitWarning.call(this, warning, ...rest);
};
// The transform can move lines: stack traces follow the inline source maps it writes.
process.setSourceMapsEnabled(true);

nodeModule.registerHooks({
  resolve(specifier, context, nextResolve) {
    if (isFleetSource(context.parentURL) && !context.conditions.includes(SOURCE_CONDITION))
      context = { ...context, conditions: [...context.conditions, SOURCE_CONDITION] };
    try {
      return nextResolve(specifier, context);
    } catch (err) {
      const fallback =
        err?.code === 'ERR_MODULE_NOT_FOUND' &&
        specifier.startsWith('.') &&
        specifier.endsWith('.js') &&
        isFleetSource(context.parentURL);
      if (!fallback) throw err;
      return nextResolve(`${specifier.slice(0, -'.js'.length)}.ts`, context);
    }
  },
  load(url, context, nextLoad) {
    const loaded = nextLoad(url, context);
    const format = TS_FORMATS[loaded.format];
    if (!format || !isFleetSource(url)) return loaded;
    const source = nodeModule.stripTypeScriptTypes(String(loaded.source), {
      mode: 'transform',
      sourceMap: true,
      sourceUrl: url,
    });
    return { format, source, shortCircuit: true };
  },
});
