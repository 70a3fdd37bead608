import type { Worker } from 'bullmq';

/**
 * The worker's one reach into BullMQ internals (tested in test/bullmq-internals.test.ts against the
 * installed BullMQ, so an upgrade that renames or changes them fails there, not silently in production).
 *
 * Why: BullMQ (6.7) reads a raised concurrency only when one of the running jobs ends: with every slot
 * busy on long jobs its main loop sleeps on them. Its main loop awaits a private queue of fetches and
 * running jobs (`Worker.mainLoopQueue`, an AsyncFifoQueue, set while the loop runs); an already-resolved
 * entry added there wakes the loop, which then fetches up to the new concurrency at once. BullMQ's own
 * resume() does the same.
 */
interface MainLoopQueue {
  add(p: Promise<unknown>): void;
}

/** BullMQ's private main-loop queue, or undefined when the loop is not running or BullMQ has none. */
export function mainLoopQueue(worker: Worker): MainLoopQueue | undefined {
  const queue = (worker as unknown as { mainLoopQueue?: Partial<MainLoopQueue> | null }).mainLoopQueue;
  return queue && typeof queue.add === 'function' ? (queue as MainLoopQueue) : undefined;
}

/**
 * Wakes BullMQ's main loop so a raised concurrency applies now. Without the internal (loop not running,
 * other BullMQ versions) the change simply applies at the next job completion. True when it woke it.
 */
export function wakeMainLoop(worker: Worker): boolean {
  const queue = mainLoopQueue(worker);
  queue?.add(Promise.resolve(undefined));
  return queue !== undefined;
}
