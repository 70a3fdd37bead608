/**
 * Default durations (s) of benchmarks that run longer than the runner's 60 s: the benchmark's own default
 * and the runner's safety net (bench/run.ts) both read them here.
 */
export const DEFAULT_DURATION_S: Readonly<Record<string, number>> = {
  // ~23 `on` pairs: 150 s runs (~10 pairs) differed by up to 4 points (docs/benchmarks.md, "tracing").
  tracing: 300,
};
