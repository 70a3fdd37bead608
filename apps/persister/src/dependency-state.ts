/**
 * Logs exactly one line per change of a dependency's state (down / back up), never a flood:
 * a dependency that stays down for an hour produces one line when it goes down and one when it returns.
 */
export class StateLog {
  private down = false;
  private since = 0;
  constructor(
    private readonly name: string,
    private readonly log: { warn(o: object, m?: string): void; info(o: object, m?: string): void },
  ) {}

  get isDown(): boolean {
    return this.down;
  }

  failed(reason: string, retryInMs?: number): void {
    if (this.down) return;
    this.down = true;
    this.since = Date.now();
    this.log.warn(
      { dependency: this.name, reason, retryInMs },
      `${this.name} unavailable: pausing, retrying with backoff`,
    );
  }

  ok(): void {
    if (!this.down) return;
    this.down = false;
    this.log.info(
      { dependency: this.name, downMs: Date.now() - this.since },
      `${this.name} available again: resuming`,
    );
  }
}
