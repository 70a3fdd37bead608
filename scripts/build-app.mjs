// Bundles one app (run from its folder) into dist/main.js with its run-time files beside it (bundle.mjs).
import { bundle } from './bundle.mjs';

await bundle({ main: 'src/main.ts' });
