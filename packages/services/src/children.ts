import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/**
 * Private servers must never outlive the process that started them (a crashed test run would otherwise
 * leave redis-server/postgres behind). On exit we SIGKILL what is still running and remove temp dirs.
 */
const children = new Set<ChildProcess>();
const pids = new Set<number>();
const dirs = new Set<string>();
let hooked = false;

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const child of children) child.kill('SIGKILL');
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  // A signal with no handler kills us without 'exit' and the children would stay alive. When someone else
  // handles the signal (an app's graceful shutdown), that handler owns the shutdown and 'exit' cleans up.
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.on(signal, () => {
      if (process.listenerCount(signal) === 1) process.exit(code);
    });
  }
}

export function trackChild(child: ChildProcess): void {
  hook();
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** For daemons we do not hold a ChildProcess for (postgres started by pg_ctl). */
export function trackPid(pid: number): () => void {
  hook();
  pids.add(pid);
  return () => pids.delete(pid);
}

export function trackDir(dir: string): () => void {
  hook();
  dirs.add(dir);
  return () => dirs.delete(dir);
}
