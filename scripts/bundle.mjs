// Bundles a workspace's entry points into dist/ (run from its folder): Fleet's own workspace packages are
// bundled in (they ship TypeScript sources), third-party packages stay external and come from node_modules.
// Files read at run time beside the code are copied: package.json "fleet.assets": { "src/x": "dist/x" },
// source relative to the package that declares it, destination relative to the workspace being built. The
// workspace's own and those of every workspace package bundled in (@fleet/store ships its migrations and SQL
// files so). Used by build-app.mjs (the apps) and build-client.mjs (@fleet/client).
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { build } from 'esbuild';

/**
 * @param {Record<string, string>} entryPoints output name (dist/<name>.js) -> source file
 * @param {{ splitting?: boolean }} [opts] splitting: lazily imported modules become chunks beside the entries
 * @returns {Promise<{ bundled: string[], external: Set<string> }>} the workspace source files bundled in and
 *   the npm packages the output imports (by package name)
 */
export async function bundle(entryPoints, opts = {}) {
  rmSync('dist', { recursive: true, force: true });
  const result = await build({
    metafile: true,
    entryPoints,
    outdir: 'dist',
    bundle: true,
    splitting: opts.splitting ?? false,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    sourcemap: true,
    logLevel: 'warning',
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    plugins: [
      {
        name: 'external-third-party',
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (args) =>
            args.path.startsWith('@fleet/') ? undefined : { path: args.path, external: true },
          );
        },
      },
    ],
  });
  const bundled = Object.keys(result.metafile.inputs).filter((f) => !f.includes('node_modules/'));
  const dirs = new Set([resolve('.'), ...bundled.map(packageDir)]);
  for (const dir of dirs) {
    const assets = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).fleet?.assets ?? {};
    for (const [from, to] of Object.entries(assets)) cpSync(join(dir, from), to, { recursive: true });
  }
  const external = new Set(
    Object.values(result.metafile.outputs)
      .flatMap((o) => o.imports)
      .filter((i) => i.external && !i.path.startsWith('node:'))
      .map((i) =>
        i.path
          .split('/')
          .slice(0, i.path.startsWith('@') ? 2 : 1)
          .join('/'),
      ),
  );
  return { bundled, external };
}

/** The folder of the package.json nearest above `file`. */
function packageDir(file) {
  let dir = dirname(resolve(file));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}
