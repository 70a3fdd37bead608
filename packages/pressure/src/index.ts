export { Backoff, LOG_EVERY_MS, LogLimiter } from './backoff.js';
export {
  fullest,
  MESSAGE_OVERHEAD_BYTES,
  type MemoryInfo,
  memoryRatio,
  nextPressure,
  type PressureBounds,
  PressureMonitor,
  type PressureMonitorOptions,
  type PressureReason,
  type PressureSample,
  parseMemoryInfo,
} from './pressure.js';
export { RetryAborted, type RetryOptions, retry, sleep } from './retry.js';
