import type { RouterLogger } from './types.js';

const noop = () => {};
/** A logger that drops everything (the router's default). */
export const noopLogger: RouterLogger = {
  child: () => noopLogger,
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
};
