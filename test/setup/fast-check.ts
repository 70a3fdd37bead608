import fc from 'fast-check';

/**
 * Vitest setup file: every property test in the run replays from the environment. fast-check prints
 * `seed` and `path` with each counterexample; `FC_SEED=<seed> [FC_PATH=<path>] npx vitest run FILE`
 * replays it without editing the test.
 */
const seed = process.env.FC_SEED;
const path = process.env.FC_PATH;
fc.configureGlobal({
  ...(seed !== undefined && seed !== '' ? { seed: Number(seed) } : {}),
  ...(path !== undefined && path !== '' ? { path } : {}),
});
