/**
 * Deadlines for many pending items without a timer each: items fall into buckets of `tickMs`, and one
 * unref'd interval (running only while something is pending) expires whole buckets. Removing an item
 * on completion is O(1), so answered requests leave nothing behind.
 */
export class TimerWheel<T> {
  private readonly buckets = new Map<number, Set<T>>();
  private readonly slotOf = new Map<T, number>();
  private timer: NodeJS.Timeout | undefined;
  private nextSlot = 0;

  constructor(
    private readonly tickMs: number,
    private readonly onExpire: (item: T) => void,
  ) {}

  get size(): number {
    return this.slotOf.size;
  }

  add(item: T, deadline: number): void {
    const slot = Math.ceil(deadline / this.tickMs);
    let bucket = this.buckets.get(slot);
    if (!bucket) {
      bucket = new Set();
      this.buckets.set(slot, bucket);
    }
    bucket.add(item);
    this.slotOf.set(item, slot);
    if (this.nextSlot === 0 || slot < this.nextSlot) this.nextSlot = slot;
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(Date.now()), this.tickMs);
      this.timer.unref();
    }
  }

  /** Forgets an item (answered before its deadline). Returns false when it was not pending. */
  delete(item: T): boolean {
    const slot = this.slotOf.get(item);
    if (slot === undefined) return false;
    this.slotOf.delete(item);
    const bucket = this.buckets.get(slot);
    if (bucket) {
      bucket.delete(item);
      if (bucket.size === 0) this.buckets.delete(slot);
    }
    return true;
  }

  /** Expires every item whose deadline is at or before `now`. */
  sweep(now: number): void {
    const last = Math.floor(now / this.tickMs);
    if (this.nextSlot !== 0 && this.nextSlot <= last) {
      for (const [slot, bucket] of this.buckets) {
        if (slot > last) continue;
        this.buckets.delete(slot);
        for (const item of bucket) {
          this.slotOf.delete(item);
          this.onExpire(item);
        }
      }
      this.nextSlot = 0;
      for (const slot of this.buckets.keys())
        if (this.nextSlot === 0 || slot < this.nextSlot) this.nextSlot = slot;
    }
    if (this.slotOf.size === 0) this.stop();
  }

  /** Removes everything without expiring it; returns what was pending. */
  drain(): T[] {
    const items = [...this.slotOf.keys()];
    this.buckets.clear();
    this.slotOf.clear();
    this.nextSlot = 0;
    this.stop();
    return items;
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.nextSlot = 0;
  }
}
