#!/usr/bin/env node
// The `fleet` CLI. Sources are TypeScript run on Node's own type support (no build step, no tsx):
// register-ts checks the Node version and registers the repository's TypeScript hook.
import '../../../scripts/register-ts.mjs';

const { main } = await import('../src/cli/main.ts');
process.exit(await main(process.argv.slice(2)));
