#!/usr/bin/env node
// The `fleet` CLI. Sources are TypeScript run through tsx (no build step), so register it first.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exit(await main(process.argv.slice(2)));
