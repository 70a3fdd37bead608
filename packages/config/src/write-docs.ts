// `npm run docs:config -w @fleet/config`: regenerates docs/configuration.md from the schema.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CONFIG_DOCS_PATH, renderConfigDocs } from './docs.js';

writeFileSync(CONFIG_DOCS_PATH, renderConfigDocs());
console.log(`wrote ${fileURLToPath(CONFIG_DOCS_PATH)}`);
