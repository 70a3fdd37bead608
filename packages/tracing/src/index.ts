export { ScopedTrace, TraceContext, withTrace } from './context.js';
export {
  type CreateLoggerOptions,
  closeLogger,
  createLogger,
  flushLogger,
  type Logger,
  type LogLevel,
  type LogWriter,
  setLogLevel,
} from './logger.js';
export {
  logProcessed,
  logReceived,
  MessageLogger,
  type ProcessedFields,
  type ReceivedFields,
} from './message-logger.js';
export {
  contextFromTraceparent,
  initTelemetry,
  initTelemetryFromConfig,
  MAX_SPAN_LINKS,
  NOOP_SPAN,
  NOOP_TRACER,
  type ResolvedTracing,
  resolveTracing,
  spanLinksFor,
  spanTraceparent,
  startBatchSpan,
  startSpanFromTraceparent,
  type Telemetry,
  type TelemetryExporter,
  type TelemetryOptions,
  withSpan,
} from './telemetry.js';
export {
  formatTraceparent,
  generateSpanId,
  generateTraceId,
  generateTraceInfo,
  generateTraceparent,
  parseTraceparent,
  TRACE_FLAG_SAMPLED,
  TRACEPARENT_LENGTH,
  type TraceInfo,
  toTraceInfo,
  writeTraceparent,
} from './traceparent.js';
