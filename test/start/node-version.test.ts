// On a Node older than package.json's engines, `npm start`, `npm test` and the fleet CLI stop with one line
// saying how to get Node 24 (scripts/require-node.mjs), never a dependency's stack trace. The running Node
// is 24, so the check runs on a copy of the scripts beside a package.json requiring a Node that does not
// exist yet. Mutation tried: require-node.mjs without its process.exit(1) after the line: start.mjs went
// on (npm ci, then the TypeScript hook) and this test failed. Restored.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/processes.js';

const FUTURE_NODE = '>=999.0.0';
const RUN_DEADLINE_MS = 30_000;
const root = mkdtempSync(join(tmpdir(), 'fleet-node-version-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
writeFileSync(join(root, 'package.json'), JSON.stringify({ ...pkg, engines: { node: FUTURE_NODE } }));
cpSync(join(REPO_ROOT, '.nvmrc'), join(root, '.nvmrc'));
cpSync(join(REPO_ROOT, 'scripts'), join(root, 'scripts'), { recursive: true });
const pinned = readFileSync(join(REPO_ROOT, '.nvmrc'), 'utf8').trim();

function run(args: string[]) {
  return spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: RUN_DEADLINE_MS });
}

describe('an older Node than engines requires', () => {
  it.each([
    ['npm start', ['scripts/start.mjs']],
    ['npm test', ['scripts/require-node.mjs', 'vitest', 'run']],
    ['a TypeScript entry (apps, fleet CLI, benches)', ['--import', './scripts/register-ts.mjs', 'x.ts']],
  ])('%s prints one line saying how to get Node 24 and exits 1', (_name, args) => {
    const r = run(args);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toContain(`is too old: Fleet needs Node ${FUTURE_NODE}`);
    expect(lines[0]).toContain('nvm install');
    expect(lines[0]).toContain(
      `npm install --prefix .tools/node24 node-${process.platform}-${process.arch}@${pinned}`,
    );
  });
});
