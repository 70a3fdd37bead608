/** Test support only (moved out of the shipped package: no app samples with it); covered by sampler.test.ts. */
export interface Sampler {
  stop(): void;
  /** Changes the period (monitoring.interval_ms is live-reloadable); applies from the next tick. */
  setInterval(ms: number): void;
}

/**
 * Runs fn every intervalMs, never overlapping (the next run is scheduled after the previous one
 * ends). A failing run is reported to onError (default: ignored) and sampling goes on.
 */
export function startSampler(
  intervalMs: number,
  fn: () => Promise<void>,
  onError: (err: unknown) => void = () => {},
): Sampler {
  let period = intervalMs;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const tick = async (): Promise<void> => {
    timer = undefined;
    try {
      await fn();
    } catch (err) {
      try {
        onError(err);
      } catch {
        // an error reporter that throws must not stop sampling
      }
    }
    schedule();
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(tick, period);
    timer.unref();
  };
  schedule();

  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
    setInterval(ms: number) {
      period = ms;
      if (timer) {
        clearTimeout(timer);
        schedule();
      }
    },
  };
}
