/**
 * A counting semaphore whose capacity can change while it is in use (thread_pools.work.queue_size is
 * live). Shrinking never preempts: holders finish, and waiters start as slots free up.
 */
export class Semaphore {
  private held = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(private capacity: number) {}

  get inUse(): number {
    return this.held;
  }

  get size(): number {
    return this.capacity;
  }

  tryAcquire(): boolean {
    if (this.held >= this.capacity) return false;
    this.held++;
    return true;
  }

  acquire(): Promise<void> | undefined {
    if (this.tryAcquire()) return undefined;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    this.held--;
    this.drain();
  }

  resize(capacity: number): void {
    this.capacity = capacity;
    this.drain();
  }

  private drain(): void {
    while (this.waiters.length > 0 && this.held < this.capacity) {
      this.held++;
      this.waiters.shift()!();
    }
  }
}
