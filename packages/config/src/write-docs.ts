// `npm run docs:config -w @fleet/config`: regenerates docs/configuration.md from the schema.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CONFIG_DOCS_PATH, renderConfigDocs } from './docs.js';

const file = fileURLToPath(CONFIG_DOCS_PATH);
writeFileSync(file, renderConfigDocs());
// Format like the rest of the tree so `biome check .` stays clean (the staleness test ignores formatting).
const biome = spawnSync('npx', ['biome', 'format', '--write', file], { stdio: 'ignore' });
console.log(`wrote ${file}${biome.status === 0 ? '' : ' (biome format failed; run npm run format)'}`);
