import { defineConfig } from 'vitest/config';
import { sourceResolution } from './vitest.config.js';

// `npm run soak`: the long-running memory soak (test/soak), kept out of `npm test`. Same global setup
// (finds or starts Redis and Postgres, creates this run's database); SOAK_DURATION_S sets its length.
export default defineConfig({
  ssr: sourceResolution,
  test: {
    include: ['test/soak/**/*.test.ts'],
    globalSetup: ['test/setup/global-setup.ts'],
    pool: 'forks',
    testTimeout: 3_600_000,
    hookTimeout: 180_000,
  },
});
