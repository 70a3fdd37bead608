// Fleet runs on Node >= the root package.json's engines.node (the 24 LTS line). register-ts.mjs imports this
// first (npm start, the fleet CLI, apps and benches from source), and it wraps `npm test`
// (`node scripts/require-node.mjs vitest run`). On an older Node it re-runs the command on the Node in the
// tool folder (.tools/node24, what .ci/run installs) if there is one, and otherwise stops with one line
// saying how to get Node 24, never a stack trace from a dependency.
// Plain JavaScript with no newer Node API: it must itself run on the old Node it is checking.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const required = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines.node; // ">=24.11.0"
const pinned = readFileSync(join(root, '.nvmrc'), 'utf8').trim(); // the exact version CI installs
const nodePackage = `node-${process.platform}-${process.arch}`; // the npm package carrying that binary
export const TOOL_BIN = join(root, '.tools', 'node24', 'node_modules', nodePackage, 'bin');

const parts = (v) =>
  v
    .replace(/^[^\d]*/, '')
    .split('.')
    .map(Number);
function satisfies(version, range) {
  const have = parts(version);
  const want = parts(range);
  for (let i = 0; i < want.length; i++) {
    if (have[i] !== want[i]) return have[i] > want[i];
  }
  return true;
}

const isMain = resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url);
const ok = satisfies(process.versions.node, required);
const toolNode = join(TOOL_BIN, 'node');

// (Not when this already is the tool folder's Node: an outdated one there must not loop.)
if (!ok && existsSync(toolNode) && process.execPath !== toolNode) {
  // The same command again on the tool folder's Node, which also comes first on the child's PATH (so
  // `vitest`, a `#!/usr/bin/env node` script, runs on it too). Signals go on to the child.
  await runAndExit(toolNode, [...process.execArgv, ...process.argv.slice(1)], {
    ...process.env,
    PATH: `${TOOL_BIN}${delimiter}${process.env.PATH ?? ''}`,
  });
} else if (!ok) {
  console.error(
    `[fleet] Node ${process.version} is too old: Fleet needs Node ${required}. Get Node 24 with \`nvm install\` (reads .nvmrc) or from https://nodejs.org, or into this checkout with \`npm install --prefix .tools/node24 ${nodePackage}@${pinned}\` (npm start and npm test then use it).`,
  );
  process.exit(1);
} else if (isMain && process.argv.length > 2) {
  await runAndExit(process.argv[2], process.argv.slice(3), process.env);
}

function runAndExit(cmd, args, env) {
  const child = spawn(cmd, args, { stdio: 'inherit', env });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('error', (err) => {
    console.error(`[fleet] ${cmd}: ${err.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  // Hold back whatever imported this module until the child has exited.
  return new Promise(() => {});
}
