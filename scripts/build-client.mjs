// Builds @fleet/client (run from packages/client) into a package that works outside this repository:
//  - dist/index.js (the library) and dist/cli.js (the `fleet` CLI, its commands as lazily loaded chunks):
//    Fleet's workspace packages bundled in, npm packages external (declared in the client's dependencies);
//  - dist/types/: declarations of the client and of the workspace packages its API mentions (tsc with
//    tsconfig.build.json), their `@fleet/<name>` imports rewritten to the relative files emitted beside them,
//    since those workspace packages are not published.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { bundle } from './bundle.mjs';

const { external } = await bundle({ index: 'src/index.ts', cli: 'src/cli/main.ts' }, { splitting: true });
// An installed tarball gets exactly its `dependencies`: every npm package the bundle imports must be one.
const declared = JSON.parse(readFileSync('package.json', 'utf8')).dependencies ?? {};
const missing = [...external].filter((name) => !Object.hasOwn(declared, name));
if (missing.length > 0) {
  console.error(`build-client: dist/ imports ${missing.join(', ')}: add to @fleet/client's dependencies`);
  process.exit(1);
}
// npm packs a LICENSE only from the package's own folder; the repository has one, at its root.
copyFileSync('../../LICENSE', 'dist/LICENSE');

const TYPES = 'dist/types';
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });

const declarations = (dir) =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath, e.name));
for (const file of declarations(TYPES)) {
  const text = readFileSync(file, 'utf8');
  const rewritten = text.replace(/(['"])@fleet\/([\w-]+)\1/g, (_, q, name) => {
    const target = join(TYPES, name, 'src', 'index.d.ts');
    if (!existsSync(target))
      throw new Error(`${file}: imports @fleet/${name}, whose declarations were not emitted`);
    let rel = relative(dirname(file), target)
      .split(sep)
      .join('/')
      .replace(/\.d\.ts$/, '.js');
    if (!rel.startsWith('.')) rel = `./${rel}`;
    return `${q}${rel}${q}`;
  });
  if (rewritten !== text) writeFileSync(file, rewritten);
}
