// Bundles one app (run from its folder) into dist/main.js: Fleet's own workspace packages are
// bundled in (they ship TypeScript sources), third-party packages stay external and come from node_modules.
// Files the app reads at run time beside its code (package.json "fleet.assets": { "src/x": "dist/x" }) are copied.
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: ['src/main.ts'],
  outfile: 'dist/main.js',
  bundle: true,
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
const assets = JSON.parse(readFileSync('package.json', 'utf8')).fleet?.assets ?? {};
for (const [from, to] of Object.entries(assets)) cpSync(from, to, { recursive: true });
