import { readdirSync, readFileSync } from 'node:fs';

const CLK_TCK = 100; // Linux USER_HZ: /proc/<pid>/stat times are in 1/100 s

/** User and system CPU seconds a process has used so far, all its threads (0 when it is gone). */
export function cpuTimes(pid: number | undefined): { user: number; sys: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) / CLK_TCK, sys: Number(fields[12]) / CLK_TCK };
  } catch {
    return { user: 0, sys: 0 };
  }
}

/** User + system CPU seconds a process has used so far, all its threads (0 when it is gone). */
export function cpuSeconds(pid: number | undefined): number {
  const { user, sys } = cpuTimes(pid);
  return user + sys;
}

/** Live child pids of a process (every thread's children list; empty when it is gone). */
export function childPids(pid: number | undefined): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) =>
      readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/**
 * CPU seconds of a process and its live descendants: an app started with several processes (node:cluster,
 * thread_pools.io.workers > 1) does its work in forked children, which its own /proc/<pid>/stat leaves out.
 */
export function treeCpuSeconds(pid: number | undefined): number {
  const { user, sys } = treeCpuTimes(pid);
  return user + sys;
}

/** treeCpuSeconds split into user and system time. */
export function treeCpuTimes(pid: number | undefined): { user: number; sys: number } {
  const own = cpuTimes(pid);
  for (const c of childPids(pid)) {
    const t = treeCpuTimes(c);
    own.user += t.user;
    own.sys += t.sys;
  }
  return own;
}
