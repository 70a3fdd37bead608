import type { RouterLogger } from './types.js';

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/**
 * A handler's logger, bound to its message (handler, topic, message id) without paying for a pino child per
 * message: a child with bindings is made only when a line is actually written at an enabled level. Handlers
 * that log at debug under an info logger (the common case on the hot path) cost a level check.
 */
export class LazyChildLogger implements RouterLogger {
  private real?: RouterLogger;

  constructor(
    private readonly base: RouterLogger,
    private readonly bindings: Record<string, unknown>,
  ) {}

  isLevelEnabled(level: string): boolean {
    return this.base.isLevelEnabled ? this.base.isLevelEnabled(level) : true;
  }

  child(bindings: Record<string, unknown>): RouterLogger {
    return new LazyChildLogger(this.base, { ...this.bindings, ...bindings });
  }

  trace(obj: unknown, msg?: string): void {
    this.write('trace', obj, msg);
  }

  debug(obj: unknown, msg?: string): void {
    this.write('debug', obj, msg);
  }

  info(obj: unknown, msg?: string): void {
    this.write('info', obj, msg);
  }

  warn(obj: unknown, msg?: string): void {
    this.write('warn', obj, msg);
  }

  error(obj: unknown, msg?: string): void {
    this.write('error', obj, msg);
  }

  private write(level: Level, obj: unknown, msg?: string): void {
    if (!this.isLevelEnabled(level)) return;
    this.real ??= this.base.child(this.bindings);
    if (msg === undefined) this.real[level](obj);
    else this.real[level](obj, msg);
  }
}
