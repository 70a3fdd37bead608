#!/usr/bin/env node
// The `fleet` CLI. In a checkout of the repository it runs the TypeScript sources on Node's own type support
// (no build step, no tsx: register-ts checks the Node version and registers the repository's hook), so it
// is never a stale build. Everywhere else (the Docker image, which has no scripts/; an installed
// @fleet/client tarball, which has no src/) it runs the bundle `npm run build` wrote to dist/cli.js.
import { existsSync } from 'node:fs';

const hook = new URL('../../../scripts/register-ts.mjs', import.meta.url);
const source = new URL('../src/cli/main.ts', import.meta.url);
let cli;
if (existsSync(hook) && existsSync(source)) {
  await import(hook.href);
  cli = await import(source.href);
} else {
  try {
    cli = await import('../dist/cli.js');
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('dist/cli.js')) throw err;
    process.stderr.write('fleet: dist/cli.js is missing: build it with `npm run build -w @fleet/client`\n');
    process.exit(1);
  }
}
const code = await cli.main(process.argv.slice(2));
// process.exit drops what a pipe has not taken yet: past the pipe's 64 KiB buffer, writes to stdout are
// queued, and a slow reader (a loaded box) lost the end of `dead-letters list --json`. An empty write's
// callback runs once everything written before it is flushed (or the pipe is gone).
await Promise.all(
  [process.stdout, process.stderr].map((s) => new Promise((done) => s.write('', () => done()))),
);
process.exit(code);
