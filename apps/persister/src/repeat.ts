/**
 * Runs `fn` every `intervalMs()` (re-read each time so live config changes apply), never overlapping
 * itself; errors go to `onError`. `reschedule()` applies a changed interval to the wait already under way
 * (counted from when that wait began), so a reload from an hour to a minute does not wait out the hour.
 * `stop()` waits for a run in progress.
 */
export function every(
  intervalMs: () => number,
  fn: () => Promise<unknown>,
  onError: (err: unknown) => void,
): { stop(): Promise<void>; reschedule(): void } {
  let timer: NodeJS.Timeout | null = null;
  let waitingSince = 0;
  let running: Promise<void> | null = null;
  let stopped = false;
  const arm = (delay: number) => {
    timer = setTimeout(() => {
      timer = null;
      running = fn()
        .then(() => undefined, onError)
        .finally(() => {
          running = null;
          schedule();
        });
    }, delay);
    timer.unref?.();
  };
  const schedule = () => {
    if (stopped) return;
    waitingSince = Date.now();
    arm(intervalMs());
  };
  schedule();
  return {
    reschedule() {
      if (stopped || timer === null) return; // a run in progress schedules the next with the new interval
      clearTimeout(timer);
      arm(Math.max(0, waitingSince + intervalMs() - Date.now()));
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
