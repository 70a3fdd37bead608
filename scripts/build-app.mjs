// Bundles one app (run from its folder) into dist/main.js: Fleet's own workspace packages are
// bundled in (they ship TypeScript sources), third-party packages stay external and come from node_modules.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/main.ts'],
  outfile: 'dist/main.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
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
