import type { FleetConfig } from '@fleet/config';
import {
  type Attributes,
  type Context,
  context,
  INVALID_SPAN_CONTEXT,
  type Link,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  type SpanOptions,
  type TimeInput,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  InMemorySpanExporter,
  ParentBasedSampler,
  SamplingDecision,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import {
  formatTraceparent,
  generateTraceparent,
  parseTraceparent,
  TRACE_FLAG_SAMPLED,
  type TraceInfo,
} from './traceparent.js';

export type TelemetryExporter = 'none' | 'console' | 'otlp' | 'memory';

export interface TelemetryOptions {
  /** service.name of the spans, e.g. `fleet-gateway`. */
  serviceName: string;
  /** none = no spans are recorded at all (trace ids still propagate); memory = for tests. */
  exporter: TelemetryExporter;
  otlpEndpoint?: string;
  /** Parent-based: applies to new traces; a message's traceparent flags decide for its spans. */
  samplingRatio: number;
  enabled: boolean;
  /** Overrides the exporter (benchmarks use a discarding one). Batched. */
  spanExporter?: SpanExporter;
  /** Register as the global OTel tracer provider and context manager (default true). */
  global?: boolean;
}

export interface Telemetry {
  /** True when spans are recorded (enabled and an exporter is set). */
  readonly recording: boolean;
  readonly tracer: Tracer;
  readonly memoryExporter?: InMemorySpanExporter;
  /** A new traceparent for a message without one; its sampled flag follows samplingRatio. */
  newTraceparent(): string;
  /** Exports pending spans; never rejects (an unreachable collector loses them). */
  forceFlush(): Promise<void>;
  /** Flushes and stops; never rejects. */
  shutdown(): Promise<void>;
}

// The disabled path: one shared non-recording span, no allocation per message.
export const NOOP_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
function noopStartActiveSpan(this: unknown, _name: string, ...args: unknown[]): unknown {
  const fn = args[args.length - 1] as (span: Span) => unknown;
  return fn(NOOP_SPAN);
}
export const NOOP_TRACER: Tracer = {
  startSpan: () => NOOP_SPAN,
  startActiveSpan: noopStartActiveSpan as Tracer['startActiveSpan'],
};

/** Telemetry for one app from the config's `tracing` section (service name `<service_name>-<app>`). */
export function initTelemetryFromConfig(tracing: FleetConfig['tracing'], app: string): Telemetry {
  return initTelemetry({
    serviceName: `${tracing.service_name}-${app}`,
    exporter: tracing.exporter,
    otlpEndpoint: tracing.otlp_endpoint,
    samplingRatio: tracing.sampling_ratio,
    enabled: tracing.enabled,
  });
}

export function initTelemetry(opts: TelemetryOptions): Telemetry {
  const ratio = Math.min(1, Math.max(0, opts.samplingRatio));
  const recording = opts.enabled && (opts.exporter !== 'none' || opts.spanExporter !== undefined);
  if (!recording) {
    return {
      recording: false,
      tracer: NOOP_TRACER,
      // Propagation stays on: ids still flow through stream, row, job, logs and reply.
      newTraceparent: () => generateTraceparent(opts.enabled ? TRACE_FLAG_SAMPLED : 0),
      forceFlush: async () => {},
      shutdown: async () => {},
    };
  }

  let memoryExporter: InMemorySpanExporter | undefined;
  let processor: SpanProcessor;
  // sdk-trace 3 takes the exporter in an options object (sdk-trace-base 2 took it positionally).
  if (opts.spanExporter) processor = new BatchSpanProcessor({ exporter: opts.spanExporter });
  else if (opts.exporter === 'memory') {
    memoryExporter = new InMemorySpanExporter();
    processor = new SimpleSpanProcessor({ exporter: memoryExporter });
  } else if (opts.exporter === 'console')
    processor = new BatchSpanProcessor({ exporter: new ConsoleSpanExporter() });
  else processor = new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: opts.otlpEndpoint }) });

  const rootSampler = new TraceIdRatioBasedSampler(ratio);
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': opts.serviceName }),
    sampler: new ParentBasedSampler({ root: rootSampler }),
    spanProcessors: [processor],
  });
  const tracer = provider.getTracer('@fleet/tracing');
  parentBased.add(tracer);

  let registered = false;
  if (opts.global !== false) {
    registered = trace.setGlobalTracerProvider(provider);
    if (registered) context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  }

  return {
    recording: true,
    tracer,
    memoryExporter,
    newTraceparent() {
      // One hex encode for both ids (generateTraceparent), then the flag the ratio sampler would give a
      // root span with this trace id.
      const tp = generateTraceparent(TRACE_FLAG_SAMPLED);
      if (ratio >= 1) return tp;
      const sampled =
        rootSampler.shouldSample(ROOT_CONTEXT, tp.slice(3, 35)).decision ===
        SamplingDecision.RECORD_AND_SAMPLED;
      return sampled ? tp : `${tp.slice(0, 53)}00`;
    },
    // Export failures (collector down) lose spans but never fail the app's flush or shutdown.
    forceFlush: () => provider.forceFlush().catch(() => {}),
    async shutdown() {
      await provider.shutdown().catch(() => {});
      if (registered) {
        trace.disable();
        context.disable();
      }
    },
  };
}

/** Tracers whose provider samples parent-based (all made by initTelemetry). */
const parentBased = new WeakSet<Tracer>();

type TraceRef = string | TraceInfo | undefined | null;
function infoOf(trace: TraceRef): TraceInfo | null {
  return trace !== null && typeof trace === 'object' ? trace : parseTraceparent(trace);
}

/** The OTel parent context of a traceparent (ROOT when absent or malformed). */
export function contextFromTraceparent(traceparent: TraceRef): Context {
  const info = infoOf(traceparent);
  if (!info) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: info.traceId,
    spanId: info.spanId,
    traceFlags: info.flags,
    isRemote: true,
  });
}

/**
 * Starts a span in the message's trace: its trace id is the traceparent's trace id, its parent the
 * traceparent's span. Without a valid traceparent it starts a new trace (root sampler decides).
 */
export function startSpanFromTraceparent(
  tracer: Tracer,
  name: string,
  traceparent: TraceRef,
  attributes?: Attributes,
  links?: Link[],
): Span {
  if (tracer === NOOP_TRACER) return NOOP_SPAN;
  const info = infoOf(traceparent);
  // Unsampled message under a parent-based sampler: the SDK would only make a non-recording span
  // in the same trace; wrap the parent context instead of the sampler round trip (several x cheaper).
  if (info !== null && (info.flags & TRACE_FLAG_SAMPLED) === 0 && parentBased.has(tracer)) {
    return trace.wrapSpanContext({
      traceId: info.traceId,
      spanId: info.spanId,
      traceFlags: info.flags,
      isRemote: true,
    });
  }
  const options: SpanOptions = {};
  if (attributes) options.attributes = attributes;
  if (links && links.length > 0) options.links = links;
  return tracer.startSpan(name, options, contextFromTraceparent(info));
}

/** OTel's default span link limit: a batch span links at most this many messages. */
export const MAX_SPAN_LINKS = 128;

/** Links from a batch span to each message's trace (malformed headers skipped, duplicates once). */
export function spanLinksFor(
  traceparents: readonly (string | undefined | null)[],
  limit = MAX_SPAN_LINKS,
): Link[] {
  const links: Link[] = [];
  const seen = new Set<string>();
  for (const tp of traceparents) {
    if (links.length >= limit) break;
    const info = infoOf(tp);
    if (!info || seen.has(info.traceparent)) continue;
    seen.add(info.traceparent);
    const ctx: SpanContext = {
      traceId: info.traceId,
      spanId: info.spanId,
      traceFlags: info.flags,
      isRemote: true,
    };
    links.push({ context: ctx });
  }
  return links;
}

/**
 * One span for a batch of messages (gateway append, persister persist/enqueue): a new trace (the root
 * sampler decides) with a link to each message's trace. The no-op span when spans are off, without
 * looking at the traceparents. `startTime` may be a performance.now() value (e.g. when the batch's first
 * frame was read).
 */
export function startBatchSpan(
  tracer: Tracer,
  name: string,
  traceparents: readonly (string | undefined | null)[],
  attributes?: Attributes,
  startTime?: TimeInput,
): Span {
  if (tracer === NOOP_TRACER) return NOOP_SPAN;
  const options: SpanOptions = { links: spanLinksFor(traceparents) };
  if (attributes) options.attributes = attributes;
  if (startTime !== undefined) options.startTime = startTime;
  return tracer.startSpan(name, options, ROOT_CONTEXT);
}

/** The traceparent that names a span (to hand downstream); undefined for a non-recording no-op span. */
export function spanTraceparent(span: Span): string | undefined {
  const sc = span.spanContext();
  if (sc.traceId === INVALID_SPAN_CONTEXT.traceId) return undefined;
  return formatTraceparent(sc.traceId, sc.spanId, sc.traceFlags);
}

/** Runs fn with span as the active OTel span (so handler code can use trace.getActiveSpan()). */
export function withSpan<T>(span: Span, fn: () => T): T {
  if (span === NOOP_SPAN) return fn();
  return context.with(trace.setSpan(context.active(), span), fn);
}
