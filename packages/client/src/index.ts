// The codes a FleetError carries, from their one home (bundled into the published package).
export { ErrorCode } from '@fleet/protocol';
export {
  backoffDelay,
  type ConnectOptions,
  connect,
  DEFAULT_PUBLISH_RETRY,
  DEFAULT_RECONNECT,
  DEFAULT_WINDOW,
  FleetClient,
  type PublishInput,
  type PublishOptions,
  type PublishResult,
  type PublishRetryOptions,
  type ReconnectOptions,
  type RequestOptions,
  type RequestResult,
  type RetryEvent,
} from './client.js';
export { FleetError } from './errors.js';
export {
  benchPayload,
  dueByTime,
  type LoadOptions,
  type LoadProgress,
  type LoadResult,
  runLoad,
} from './load.js';
export { type PayloadInput, toPayloadBytes } from './payload.js';
