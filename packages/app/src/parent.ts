/**
 * The orphan guard of `npm start` (scripts/start.ts). Node has no PR_SET_PDEATHSIG: a child learns of its
 * parent's death only through something the parent held open. start.ts gives each app an IPC channel and
 * sets FLEET_START_WATCH_PARENT=1; when the start process dies, however it dies (kill -9 included), the
 * channel closes and the app stops as on SIGTERM (its graceful shutdown), with a hard exit in case that hangs.
 */
const MARKER = 'FLEET_START_WATCH_PARENT';
const HARD_EXIT_MS = 20_000;

export interface ParentWatch {
  /** Calls `stop` once the parent is gone (at once if it already is). */
  onGone(stop: () => void): void;
}

/** Call before anything forks: the marker is removed so that forked processes (cluster workers) keep theirs. */
export function watchParent(): ParentWatch {
  const marked = process.env[MARKER] === '1';
  delete process.env[MARKER];
  const channel = process.channel;
  if (!marked || !channel) return { onGone: () => {} };
  // The channel must not keep the app alive by itself, nor stop it from exiting on its own (an explicit
  // unref also outlasts the ref a 'disconnect' listener would take).
  channel.unref();
  return {
    onGone(stop) {
      const gone = () => {
        setTimeout(() => process.exit(1), HARD_EXIT_MS).unref();
        stop();
      };
      // The parent may have died while this process was still loading its modules.
      if (!process.connected) gone();
      else process.once('disconnect', gone);
    },
  };
}
