import type { Logger } from '@fleet/tracing';

/** Exit code of a process ended by a stop request it could not serve gracefully (128 + signal number). */
const EXIT_CODE: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export interface ShutdownSignals {
  /** A stop request (a signal, the primary, the parent gone): the shutdown runs once. */
  stop(reason: string): void;
  /** The graceful shutdown, once the app serves; until then a stop request exits at once. */
  serve(shutdown: (reason: string) => Promise<void>): void;
  /** Runs just before a forced exit (e.g. a cluster primary kills its workers). */
  onForce(hook: () => void): void;
}

/**
 * SIGINT and SIGTERM start the graceful shutdown; the same signal again forces an immediate exit
 * (128 + its number) for an operator who will not wait out the app's deadlines. Only a repeat forces:
 * Ctrl-C under `npm start` sends the apps SIGINT (terminal process group) and then SIGTERM (start.ts),
 * which must still drain; a second Ctrl-C is a repeat.
 */
export function watchSignals(log: Logger): ShutdownSignals {
  let shutdown: ((reason: string) => Promise<void>) | undefined;
  let stopping = false;
  const seen = new Set<string>();
  const forceHooks: Array<() => void> = [];

  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    // Not serving yet (starting, or a failed start cleaning up): what the signal's default would do.
    if (!shutdown) process.exit(EXIT_CODE[reason] ?? EXIT_CODE.SIGTERM);
    shutdown(reason).catch((err) => {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  for (const signal of SIGNALS) {
    process.on(signal, () => {
      if (!seen.has(signal)) {
        seen.add(signal);
        return stop(signal);
      }
      log.warn({ signal }, 'signal repeated: exiting without finishing the shutdown');
      for (const hook of forceHooks) hook();
      process.exit(EXIT_CODE[signal]);
    });
  }
  return {
    stop,
    serve: (fn) => {
      shutdown = fn;
    },
    onForce: (hook) => void forceHooks.push(hook),
  };
}
