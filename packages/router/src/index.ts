export { errorMessage, HandlerAbortedError, HandlerTimeoutError } from './errors.js';
export { noopLogger } from './noop-logger.js';
export { PatternError, parsePattern, patternError } from './pattern.js';
export { replyBytes } from './reply.js';
export type { TopicRouterOptions } from './router.js';
export {
  DEFAULT_PRIORITY,
  DEFAULT_TIMEOUT_MS,
  MAX_SUBSCRIPTION_PRIORITY,
  MIN_PRIORITY,
  TopicRouter,
} from './router.js';
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
