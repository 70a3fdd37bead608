import { type Job, RedisQueueBackend, raw2NextJobData, type Worker } from 'bullmq';

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
  /** Settled fetches and jobs not yet taken by the loop. */
  numQueued(): number;
}

/** BullMQ's private main-loop queue, or undefined when the loop is not running or BullMQ has none. */
export function mainLoopQueue(worker: Worker): MainLoopQueue | undefined {
  const queue = (worker as unknown as { mainLoopQueue?: Partial<MainLoopQueue> | null }).mainLoopQueue;
  return queue && typeof queue.add === 'function' && typeof queue.numQueued === 'function'
    ? (queue as MainLoopQueue)
    : undefined;
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

/** The private Worker members gateJobFetches uses (BullMQ 6.7: worker.js). */
interface FetchInternals {
  moveToActive(token: string, name?: string): Promise<Job | undefined>;
  processJob(job: Job, token: string, fetchNextCallback?: () => boolean): Promise<Job | undefined>;
  /** True after a fetch found the queue empty: the next fetch first blocks on the queue's marker. */
  drained: boolean;
  closing?: unknown;
}

/** The process-wide slot pool gateJobFetches takes from (job-gate.ts JobGate). */
export interface FetchGate {
  /** Waits for a slot; false once the gate is closed. */
  acquire(): Promise<boolean>;
  /** A slot now, or false. */
  tryAcquire(): boolean;
  release(): void;
}

/**
 * Bounds the jobs several Workers of one process run at once by a shared gate. Why internals: a Worker
 * moves a job to active (locks it) before its processor runs, so a gate inside the processor would hold
 * locked jobs idle that another process could run. Here a slot is taken before `moveToActive` (every
 * fetch: the main loop's, after the blocking wait for a job) and given back when `processJob` ends; a
 * fetch that finds no job gives it back at once. `processJob`'s fetch-next-on-completion (which would
 * take the next job inside moveToCompleted, past the gate) is turned off: one more round trip per job,
 * paid only by processes running several shard Workers.
 *
 * BullMQ's main loop awaits each fetch and starts the jobs it fetched only once it stops fetching. So a
 * fetch waits for a slot only when its Worker's main-loop queue holds no settled entry (a fetched job
 * waiting to start holds a slot: waiting then would deadlock). Otherwise it only tries, and without a
 * slot fetches nothing (`drained` cleared, so a marker its blocking wait consumed is not lost): the loop
 * then starts what it fetched and comes back; each such turn takes one settled entry, so it cannot spin.
 * False (nothing changed) when this BullMQ lacks these members; the caller refuses to start then
 * (test/bullmq-internals.test.ts catches it first).
 */
export function gateJobFetches(worker: Worker, gate: FetchGate): boolean {
  const w = worker as unknown as Partial<FetchInternals>;
  if (typeof w.moveToActive !== 'function' || typeof w.processJob !== 'function' || !('drained' in w))
    return false;
  const moveToActive = w.moveToActive.bind(worker);
  const processJob = w.processJob.bind(worker);
  w.moveToActive = async (token, name) => {
    const settled = mainLoopQueue(worker)?.numQueued() ?? 0;
    const granted = settled > 0 ? gate.tryAcquire() : await gate.acquire();
    if (!granted) {
      w.drained = false;
      // Gate closed under a Worker not closing (never by worker.ts): no busy loop of empty fetches.
      if (settled === 0 && !w.closing) await new Promise((resolve) => setTimeout(resolve, 100));
      return undefined;
    }
    // Closed or paused (error backoff) while it waited: fetch nothing.
    if (w.closing || worker.isPaused()) {
      gate.release();
      return undefined;
    }
    let job: Job | undefined;
    try {
      job = await moveToActive(token, name);
    } catch (err) {
      gate.release();
      throw err;
    }
    if (!job) gate.release();
    return job;
  };
  w.processJob = async (job, token) => {
    try {
      return await processJob(job, token, () => false);
    } finally {
      gate.release();
    }
  };
  return true;
}

/** The members of BullMQ's RedisQueueBackend its moveToFinished uses (BullMQ 6.7: redis-queue-backend.js). */
interface FinishInternals {
  queue: { client: Promise<unknown> };
  execCommand(client: unknown, command: string, args: unknown[]): Promise<unknown>;
  finishedErrors(e: { code: number; jobId: string; command: string; state: string }): Error;
  moveToFinished(jobId: string, args: unknown[]): Promise<unknown[] | undefined>;
}

/**
 * BullMQ's moveToFinished (a job completed or failed) without its costly reply test. It checks the reply
 * with `result < 0`; when the reply carries the next job (fetched with the completion, as long as jobs
 * wait) it is an array, which `<` first turns into one string of all that job's fields: its whole data (a
 * batch of 100 messages: ~25 KB of text at 100-byte payloads, ~1 MB at 8 KB), made and dropped per job;
 * 2-4% of the worker's CPU in the e2e profile (issue 18). Here the same method tests numbers only (as
 * BullMQ's own addJobScheduler does). False (nothing changed) for another backend or BullMQ version.
 */
export function cheapFinishReplies(backend: unknown): boolean {
  if (!(backend instanceof RedisQueueBackend)) return false;
  const b = backend as unknown as FinishInternals;
  if (typeof b.execCommand !== 'function' || typeof b.finishedErrors !== 'function' || !('queue' in b))
    return false;
  b.moveToFinished = async function (this: FinishInternals, jobId, args) {
    const result = await this.execCommand(await this.queue.client, 'moveToFinished', args);
    if (typeof result === 'number' && result < 0)
      throw this.finishedErrors({ code: result, jobId, command: 'moveToFinished', state: 'active' });
    return result === undefined ? undefined : raw2NextJobData(result as unknown[]);
  };
  return true;
}
