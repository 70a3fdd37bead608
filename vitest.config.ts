import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// One run covers unit tests beside each package/app and the integration tests in test/.
// The global setup finds (or starts) Redis and Postgres once and creates this run's database.
// @fleet/client's package.json points at its build (dist/) for users and at src/ under this condition:
// tests run the sources, with no build first (tsconfig's customConditions, scripts/register-ts.mjs too).
export const sourceResolution = { resolve: { conditions: ['fleet-source', ...defaultServerConditions] } };

export default defineConfig({
  ssr: sourceResolution,
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'test/soak/**'],
    globalSetup: ['test/setup/global-setup.ts'],
    // Property tests replay a printed counterexample from FC_SEED / FC_PATH (see the file).
    setupFiles: ['test/setup/fast-check.ts'],
    pool: 'forks',
    // Memory checks collect garbage before they measure (globalThis.gc), so test workers expose it.
    execArgv: ['--expose-gc'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', ['json', { outputFile: 'test-output/results.json' }]],
  },
});
