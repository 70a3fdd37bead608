/**
 * Runs `fn` every `intervalMs()` (re-read each time so live config changes apply), never overlapping
 * itself; errors go to `onError`. `stop()` waits for a run in progress.
 */
export function every(
  intervalMs: () => number,
  fn: () => Promise<unknown>,
  onError: (err: unknown) => void,
): { stop(): Promise<void> } {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopped = false;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = fn()
        .then(() => undefined, onError)
        .finally(() => {
          running = null;
          schedule();
        });
    }, intervalMs());
    timer.unref?.();
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
