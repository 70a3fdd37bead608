import { defineConfig } from 'vitest/config';

// One run covers unit tests beside each package/app and the integration tests in test/.
// The global setup finds (or starts) Redis and Postgres once and creates this run's database.
export default defineConfig({
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
