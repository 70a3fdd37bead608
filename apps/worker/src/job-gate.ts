/**
 * The process-wide bound on running jobs (thread_pools.work.workers) when one process runs a BullMQ Worker
 * per shard queue. A shard Worker takes a slot before it moves a job to active and gives it back when the
 * job is finished (bullmq-internals.ts gateJobFetches), so a Worker blocked on an empty queue holds none.
 * Waiters are served first come first served: busy shards take turns. Capacity is live (resize); close()
 * turns every waiting and later acquire() into `false` (shutdown: fetch nothing more).
 */
export class JobGate {
  private held = 0;
  private closed = false;
  private readonly waiters: Array<(granted: boolean) => void> = [];

  constructor(private capacity: number) {}

  get inUse(): number {
    return this.held;
  }

  get size(): number {
    return this.capacity;
  }

  /** Resolves true with a slot taken, or false once closed. */
  acquire(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (this.held < this.capacity) {
      this.held++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** A slot now if one is free and nobody waits for one (waiters go first), else false. */
  tryAcquire(): boolean {
    if (this.closed || this.held >= this.capacity || this.waiters.length > 0) return false;
    this.held++;
    return true;
  }

  release(): void {
    this.held--;
    this.drain();
  }

  resize(capacity: number): void {
    this.capacity = capacity;
    this.drain();
  }

  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w(false);
  }

  private drain(): void {
    while (this.waiters.length > 0 && this.held < this.capacity) {
      this.held++;
      this.waiters.shift()!(true);
    }
  }
}
