#!/usr/bin/env node
// `npm start`: checks the Node version, installs dependencies on a fresh clone, then runs scripts/start.ts
// (TypeScript on Node's own type support, through scripts/register-ts.mjs).
import './require-node.mjs';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
  console.log('[fleet] installing dependencies (npm ci) ...');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
await import('./register-ts.mjs');
await import('./start.ts');
