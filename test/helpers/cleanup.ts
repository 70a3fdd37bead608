/**
 * Runs `fn` when this test process ends. Vitest ends its forked workers with SIGTERM, which skips 'exit'
 * unless someone listens; so we also listen and exit (only when no one else handles the signal).
 */
const tasks = new Set<() => void>();
let hooked = false;

export function onProcessExit(fn: () => void): () => void {
  tasks.add(fn);
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const task of tasks) {
        try {
          task();
        } catch {
          // best effort: the process is ending
        }
      }
    });
    for (const [signal, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      process.on(signal, () => {
        if (process.listenerCount(signal) === 1) process.exit(code);
      });
    }
  }
  return () => tasks.delete(fn);
}
