import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/**
 * Cleanup that must run however this process ends. Private servers must never outlive the process that
 * started them (a crashed test run would otherwise leave redis-server/postgres behind): on exit we SIGKILL
 * what is still running, then remove temp dirs. A signal with no handler kills the process without 'exit'
 * (vitest ends its forked workers with SIGTERM), so we also listen and exit, but only when no one else
 * handles the signal: an app's graceful shutdown owns it, and its exit runs these tasks.
 */
const tasks = new Set<() => void>();
/** Run after `tasks`: directories go once the processes using them are dead. */
const lateTasks = new Set<() => void>();
let hooked = false;

function runAll(set: Set<() => void>): void {
  for (const task of set) {
    try {
      task();
    } catch {
      // best effort: the process is ending
    }
  }
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    runAll(tasks);
    runAll(lateTasks);
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

/** Runs `fn` when this process ends; the returned function cancels it. */
export function onProcessExit(fn: () => void): () => void {
  hook();
  tasks.add(fn);
  return () => tasks.delete(fn);
}

export function trackChild(child: ChildProcess): void {
  const cancel = onProcessExit(() => child.kill('SIGKILL'));
  child.once('exit', cancel);
}

/** For daemons we do not hold a ChildProcess for (postgres started by pg_ctl). */
export function trackPid(pid: number): () => void {
  return onProcessExit(() => process.kill(pid, 'SIGKILL'));
}

export function trackDir(dir: string): () => void {
  hook();
  const task = () => rmSync(dir, { recursive: true, force: true });
  lateTasks.add(task);
  return () => lateTasks.delete(task);
}
