// Every workspace declares what it imports: shipped code (src/, bin/) its `dependencies`, tests (test/) its
// `dependencies`, `devDependencies` or the root's `devDependencies`, and bench (tooling) either of its own.
// A published workspace (not "private": @fleet/client) bundles the workspace packages it imports into dist/,
// so those are build inputs in its `devDependencies`; its build (scripts/build-client.mjs) refuses a bundle
// that imports an npm package missing from its `dependencies`.
// Without it npm hoisting hides a missing dependency until a package is installed alone (a Docker image,
// a deploy), and turbo's graph has no edge to order builds and typechecks by.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/processes.js';

interface Manifest {
  name: string;
  private?: boolean;
  workspaces?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const readManifest = (dir: string): Manifest =>
  JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

const root = readManifest(REPO_ROOT);
const BUILTINS = new Set(builtinModules);

/** Workspace directories from the root's `workspaces` (`dir/*` globs and plain paths). */
function workspaceDirs(): string[] {
  return (root.workspaces ?? []).flatMap((w) => {
    if (!w.endsWith('/*')) return [join(REPO_ROOT, w)];
    const parent = join(REPO_ROOT, w.slice(0, -2));
    return readdirSync(parent)
      .map((d) => join(parent, d))
      .filter((d) => statSync(join(d, 'package.json'), { throwIfNoEntry: false })?.isFile());
  });
}

function sourceFiles(dir: string): string[] {
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'dist' ? [] : sourceFiles(path);
    return /\.(ts|mts|js|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

// Static imports/re-exports (type-only included: typecheck needs them), side-effect and dynamic imports.
const IMPORT_RES = [
  /^\s*(?:import|export)\s[^'"`]*?\sfrom\s*['"]([^'"]+)['"]/gm,
  /^\s*import\s*['"]([^'"]+)['"]/gm,
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
];

/** The packages a file imports by bare specifier (not relative, not a Node builtin). */
function importedPackages(text: string): Set<string> {
  const out = new Set<string>();
  for (const re of IMPORT_RES) {
    for (const m of text.matchAll(re)) {
      const spec = m[1]!;
      if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:')) continue;
      const parts = spec.split('/');
      const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
      if (!BUILTINS.has(name)) out.add(name);
    }
  }
  return out;
}

/** `<workspace>: <file> imports <package>, not in <where>` for every undeclared import. */
function undeclared(dir: string, subdirs: string[], allowed: Set<string>, where: string): string[] {
  const problems: string[] = [];
  const name = readManifest(dir).name;
  for (const file of subdirs.flatMap((s) => sourceFiles(join(dir, s)))) {
    for (const pkg of importedPackages(readFileSync(file, 'utf8'))) {
      if (pkg !== name && !allowed.has(pkg))
        problems.push(`${name}: ${relative(REPO_ROOT, file)} imports ${pkg}, not in ${where}`);
    }
  }
  return problems;
}

const keys = (...deps: (Record<string, string> | undefined)[]) =>
  new Set(deps.flatMap((d) => Object.keys(d ?? {})));

describe('workspace dependencies', () => {
  const dirs = workspaceDirs();

  it('finds the workspaces and reads imports of every form', () => {
    expect(dirs.map((d) => relative(REPO_ROOT, d))).toEqual(
      expect.arrayContaining(['apps/gateway', 'packages/protocol', 'bench']),
    );
    const text = [
      "import { a } from '@fleet/x/sub';",
      "import type { B } from 'ioredis';",
      "export { c } from 'yaml';",
      "import 'side-effect';",
      "const m = await import('@scope/dyn');",
      "import { join } from 'node:path';",
      "import { readFileSync } from 'fs';",
      "import { rel } from './rel.js';",
    ].join('\n');
    expect([...importedPackages(text)].sort()).toEqual([
      '@fleet/x',
      '@scope/dyn',
      'ioredis',
      'side-effect',
      'yaml',
    ]);
  });

  it('each workspace declares the workspaces and npm packages its code imports', () => {
    const problems = dirs.flatMap((dir) => {
      const m = readManifest(dir);
      const bundled = m.private
        ? []
        : Object.keys(m.devDependencies ?? {}).filter((d) => d.startsWith('@fleet/'));
      const shipped = new Set([...keys(m.dependencies, m.peerDependencies), ...bundled]);
      const all = keys(m.dependencies, m.peerDependencies, m.devDependencies);
      const testing = keys(m.dependencies, m.peerDependencies, m.devDependencies, root.devDependencies);
      // bench has no src/: all of it is tooling.
      if (relative(REPO_ROOT, dir) === 'bench') return undeclared(dir, ['.'], all, 'its dependencies');
      return [
        ...undeclared(dir, ['src', 'bin'], shipped, 'its dependencies'),
        ...undeclared(dir, ['test'], testing, 'its (dev)dependencies or the root devDependencies'),
      ];
    });
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('npm dependencies are pinned to exact versions; workspaces are referenced as "*"', () => {
    const problems = dirs.flatMap((dir) => {
      const m = readManifest(dir);
      return Object.entries({ ...m.dependencies, ...m.devDependencies })
        .filter(([dep, v]) => (dep.startsWith('@fleet/') ? v !== '*' : !/^\d+\.\d+\.\d+$/.test(v)))
        .map(([dep, v]) => `${m.name}: ${dep}@${v}`);
    });
    expect(problems, problems.join('\n')).toEqual([]);
  });
});
