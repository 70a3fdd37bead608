export { TopicRouter, DEFAULT_PRIORITY, DEFAULT_TIMEOUT_MS, MIN_PRIORITY, MAX_PRIORITY } from './router.js';
export type { TopicRouterOptions } from './router.js';
export { PatternError, parsePattern, patternError } from './pattern.js';
export { HandlerTimeoutError, HandlerAbortedError, errorMessage } from './errors.js';
export { replyBytes } from './reply.js';
export { noopLogger } from './noop-logger.js';
export type {
  Filter,
  Handler,
  HandlerContext,
  HandlerFailure,
  ReplyData,
  RouteOptions,
  RouteOutcome,
  RouterLogger,
  SubscribeOptions,
  Subscription,
} from './types.js';
