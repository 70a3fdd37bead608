import { hostname } from 'node:os';
import type { FleetConfig } from '@fleet/config';
import {
  type Attributes,
  type Context,
  context,
  INVALID_SPAN_CONTEXT,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  type SpanOptions,
  type TimeInput,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { OTLPTraceExporter as OTLPJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import {
  defaultResource,
  envDetector,
  hostDetector,
  osDetector,
  processDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  InMemorySpanExporter,
  ParentBasedSampler,
  type Sampler,
  SamplingDecision,
  SimpleSpanProcessor,
  type SpanExporter,
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
  /** service.name of the spans, e.g. `fleet-gateway` (OTEL_SERVICE_NAME wins). */
  serviceName: string;
  /** service.version (the fleet's version, @fleet/metrics FLEET_VERSION). */
  serviceVersion?: string;
  /** service.instance.id: the app's consumer/instance id (default `<hostname>-<pid>`). */
  serviceInstanceId?: string;
  /** none = no spans are recorded at all (trace ids still propagate); memory = for tests. */
  exporter: TelemetryExporter;
  /** OTLP/HTTP traces URL (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT win). */
  otlpEndpoint?: string;
  /** Parent-based: applies to new traces; a message's traceparent flags decide for its spans. */
  samplingRatio: number;
  enabled: boolean;
  /** Overrides the exporter (benchmarks use a discarding one). Batched. */
  spanExporter?: SpanExporter;
  /**
   * Start the OpenTelemetry NodeSDK, which registers the global tracer provider, context manager and
   * propagator (default true; one per process). false: a private TracerProvider that reads no OTEL_*
   * variable, for tests and benches that run several apps in one process.
   */
  global?: boolean;
  /** Told about an OTEL_* value that is not understood (ignored, with the YAML's value used). */
  onWarning?: (message: string) => void;
}

export interface Telemetry {
  /** True when spans are recorded (enabled and an exporter is set). */
  readonly recording: boolean;
  readonly tracer: Tracer;
  readonly memoryExporter?: InMemorySpanExporter;
  /** A new traceparent for a message without one; its sampled flag follows the root sampler. */
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

/** What a process records, after the OTEL_* variables have overridden the YAML (resolveTracing). */
export interface ResolvedTracing {
  /** Trace ids are propagated with the sampled flag from the root sampler (false: flag 0, no spans). */
  enabled: boolean;
  /**
   * Where spans go: `off` (the no-op tracer), `env` (the NodeSDK builds the exporters from
   * OTEL_TRACES_EXPORTER / OTEL_EXPORTER_OTLP_*), or an exporter the YAML names.
   */
  spans: 'off' | 'env' | 'console' | 'otlp' | 'memory' | 'custom';
  /** The YAML's OTLP/HTTP URL, when the YAML's exporter is used. */
  otlpEndpoint?: string;
  sampler: Sampler;
  /** The sampler of new traces (the gateway's traceparents); the whole sampler when not parent-based. */
  rootSampler: Sampler;
  parentBased: boolean;
  /** Root sampler never samples: spans are off (always_off: the no-op tracer). */
  rootOff: boolean;
  rootAlwaysOn: boolean;
  warnings: string[];
}

const envValue = (env: NodeJS.ProcessEnv, name: string): string | undefined => {
  const v = env[name]?.trim();
  return v ? v : undefined;
};

/**
 * The OTEL_* variables over the YAML tracing section over the defaults, field by field:
 * OTEL_SDK_DISABLED (true/false) over `enabled`; OTEL_TRACES_EXPORTER, else an OTLP endpoint variable
 * (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT: export over OTLP there), over
 * `exporter` + `otlp_endpoint`; OTEL_TRACES_SAMPLER (+ _ARG) over `sampling_ratio`. OTEL_SERVICE_NAME and
 * OTEL_RESOURCE_ATTRIBUTES are applied by the SDK's env resource detector, over `service_name`.
 */
export function resolveTracing(
  opts: Pick<TelemetryOptions, 'exporter' | 'otlpEndpoint' | 'samplingRatio' | 'enabled' | 'spanExporter'>,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedTracing {
  const warnings: string[] = [];
  const disabled = envValue(env, 'OTEL_SDK_DISABLED')?.toLowerCase();
  const enabled = disabled === 'true' ? false : disabled === 'false' ? true : opts.enabled;
  if (disabled !== undefined && disabled !== 'true' && disabled !== 'false')
    warnings.push(`OTEL_SDK_DISABLED=${disabled} is not true or false; ignored`);

  let spans: ResolvedTracing['spans'];
  let otlpEndpoint: string | undefined;
  // Code-chosen exporters (tests, benches) are not replaced by the environment.
  if (opts.spanExporter) spans = 'custom';
  else if (opts.exporter === 'memory') spans = 'memory';
  else {
    const envExporters = envValue(env, 'OTEL_TRACES_EXPORTER')
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const envEndpoint =
      envValue(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? envValue(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
    if (envExporters && envExporters.length > 0) spans = envExporters[0] === 'none' ? 'off' : 'env';
    else if (envEndpoint) spans = 'env';
    else if (opts.exporter === 'none') spans = 'off';
    else {
      spans = opts.exporter;
      if (opts.exporter === 'otlp') otlpEndpoint = opts.otlpEndpoint;
    }
  }

  const ratio = Math.min(1, Math.max(0, opts.samplingRatio));
  let root: Sampler = new TraceIdRatioBasedSampler(ratio);
  let parentBased = true;
  let rootOff = ratio === 0;
  let rootAlwaysOn = ratio >= 1;
  const samplerName = envValue(env, 'OTEL_TRACES_SAMPLER');
  if (samplerName !== undefined) {
    const envRatio = (): number => {
      const arg = envValue(env, 'OTEL_TRACES_SAMPLER_ARG');
      const n = arg === undefined ? Number.NaN : Number(arg);
      if (Number.isFinite(n) && n >= 0 && n <= 1) return n;
      warnings.push(`OTEL_TRACES_SAMPLER_ARG=${arg ?? ''} is not a ratio in [0, 1]; using 1`);
      return 1;
    };
    const known: Record<string, () => [Sampler, boolean, number]> = {
      always_on: () => [new AlwaysOnSampler(), false, 1],
      always_off: () => [new AlwaysOffSampler(), false, 0],
      traceidratio: () => {
        const r = envRatio();
        return [new TraceIdRatioBasedSampler(r), false, r];
      },
      parentbased_always_on: () => [new AlwaysOnSampler(), true, 1],
      parentbased_always_off: () => [new AlwaysOffSampler(), true, 0],
      parentbased_traceidratio: () => {
        const r = envRatio();
        return [new TraceIdRatioBasedSampler(r), true, r];
      },
    };
    const make = known[samplerName];
    if (make) {
      let r: number;
      [root, parentBased, r] = make();
      rootOff = r === 0;
      rootAlwaysOn = r >= 1;
    } else
      warnings.push(
        `OTEL_TRACES_SAMPLER=${samplerName} is not one of ${Object.keys(known).join(', ')}; using tracing.sampling_ratio`,
      );
  }
  // A root that never samples without a parent to follow: no span can ever be recorded.
  if (rootOff && !parentBased) spans = 'off';
  if (!enabled) spans = 'off';
  const sampler = parentBased ? new ParentBasedSampler({ root }) : root;
  const resolved: ResolvedTracing = {
    enabled,
    spans,
    sampler,
    rootSampler: root,
    parentBased,
    rootOff,
    rootAlwaysOn,
    warnings,
  };
  if (otlpEndpoint !== undefined) resolved.otlpEndpoint = otlpEndpoint;
  return resolved;
}

/** Telemetry for one app from the config's `tracing` section (service name `<service_name>-<app>`). */
export function initTelemetryFromConfig(
  tracing: FleetConfig['tracing'],
  app: string,
  resource: { version?: string; instanceId?: string; onWarning?: (message: string) => void } = {},
): Telemetry {
  const opts: TelemetryOptions = {
    serviceName: `${tracing.service_name}-${app}`,
    exporter: tracing.exporter,
    otlpEndpoint: tracing.otlp_endpoint,
    samplingRatio: tracing.sampling_ratio,
    enabled: tracing.enabled,
  };
  if (resource.version !== undefined) opts.serviceVersion = resource.version;
  if (resource.instanceId !== undefined) opts.serviceInstanceId = resource.instanceId;
  if (resource.onWarning) opts.onWarning = resource.onWarning;
  return initTelemetry(opts);
}

/** The YAML's OTLP/HTTP exporter, in the protocol OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL names. */
function yamlOtlpExporter(url: string | undefined, env: NodeJS.ProcessEnv): SpanExporter {
  const protocol =
    envValue(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? envValue(env, 'OTEL_EXPORTER_OTLP_PROTOCOL');
  const config = url === undefined ? {} : { url };
  // http/protobuf is the OTLP default; http/json on request (grpc needs an OTEL_EXPORTER_OTLP_* endpoint).
  return protocol === 'http/json' ? new OTLPJsonTraceExporter(config) : new OTLPProtoTraceExporter(config);
}

/** One NodeSDK per process: the globals it registers are the process's. */
let sdkActive = false;

export function initTelemetry(opts: TelemetryOptions): Telemetry {
  const env = process.env;
  const global = opts.global !== false;
  // A private provider reads no OTEL_* variable (several in-process apps must not share the environment's).
  const r = resolveTracing(opts, global ? env : {});
  for (const w of r.warnings) opts.onWarning?.(w);
  if (r.spans === 'off') {
    return {
      recording: false,
      tracer: NOOP_TRACER,
      // Propagation stays on: ids still flow through stream, row, job, logs and reply.
      newTraceparent: () => generateTraceparent(r.enabled ? TRACE_FLAG_SAMPLED : 0),
      forceFlush: async () => {},
      shutdown: async () => {},
    };
  }

  let memoryExporter: InMemorySpanExporter | undefined;
  let exporter: SpanExporter | undefined;
  if (r.spans === 'custom') exporter = opts.spanExporter!;
  else if (r.spans === 'memory') exporter = memoryExporter = new InMemorySpanExporter();
  else if (r.spans === 'console') exporter = new ConsoleSpanExporter();
  else if (r.spans === 'otlp') exporter = yamlOtlpExporter(r.otlpEndpoint, env);
  // r.spans === 'env': no exporter here, the NodeSDK builds it from OTEL_TRACES_EXPORTER / OTEL_EXPORTER_OTLP_*.
  // The memory exporter (tests) gets each span as it ends; others are batched. sdk-trace 3 takes the
  // exporter in an options object (sdk-trace-base 2 took it positionally).
  const simple = memoryExporter ? new SimpleSpanProcessor({ exporter: memoryExporter }) : undefined;

  const base = resourceFromAttributes({
    'service.name': opts.serviceName,
    ...(opts.serviceVersion === undefined ? {} : { 'service.version': opts.serviceVersion }),
    'service.instance.id': opts.serviceInstanceId ?? `${hostname()}-${process.pid}`,
  });

  let tracer: Tracer;
  let flush: () => Promise<void>;
  let stop: () => Promise<void>;
  if (global && !sdkActive) {
    const sdk = new NodeSDK({
      // Defaults (telemetry.sdk.*) under Fleet's service.* under the detectors: the env detector, last,
      // applies OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME over everything.
      resource: defaultResource().merge(base),
      // The NodeSDK's default set without serviceInstanceIdDetector (a random UUID would replace the
      // app's instance id); OTEL_NODE_RESOURCE_DETECTORS, when set, picks them instead.
      ...(envValue(env, 'OTEL_NODE_RESOURCE_DETECTORS')
        ? {}
        : { resourceDetectors: [processDetector, hostDetector, osDetector, envDetector] }),
      sampler: r.sampler,
      // An exporter is batched by the SDK with the OTEL_BSP_* settings.
      ...(simple ? { spanProcessors: [simple] } : exporter ? { traceExporter: exporter } : {}),
      // No auto-instrumentations (http, ioredis, pg, ...): they patch modules and cost CPU on every
      // message; Fleet makes its spans explicitly (one per batch, one per handled message).
      instrumentations: [],
      // Traces only: no OTLP metrics (Prometheus serves them) nor logs (pino writes them).
      metricReaders: [],
      logRecordProcessors: [],
    });
    sdk.start();
    sdkActive = true;
    tracer = trace.getTracer('@fleet/tracing');
    flush = async () => {
      // The SDK keeps its provider to itself; the registered global is it.
      const provider = trace.getTracerProvider() as unknown as { getDelegate?: () => unknown };
      const delegate = provider.getDelegate?.() as { forceFlush?: () => Promise<void> } | undefined;
      await delegate?.forceFlush?.();
    };
    stop = async () => {
      await sdk.shutdown();
      // Unregister, so that a later NodeSDK in this process (tests) registers its own.
      trace.disable();
      context.disable();
      propagation.disable();
      sdkActive = false;
    };
  } else {
    const provider = new TracerProvider({
      resource: defaultResource().merge(base),
      sampler: r.sampler,
      spanProcessors: simple ? [simple] : exporter ? [new BatchSpanProcessor({ exporter })] : [],
    });
    tracer = provider.getTracer('@fleet/tracing');
    flush = () => provider.forceFlush();
    stop = () => provider.shutdown();
  }
  if (r.parentBased) parentBased.add(tracer);

  const rootSampler = r.rootSampler;
  return {
    recording: true,
    tracer,
    memoryExporter,
    newTraceparent() {
      // One hex encode for both ids (generateTraceparent), then the flag the root sampler would give a
      // root span with this trace id.
      const tp = generateTraceparent(TRACE_FLAG_SAMPLED);
      if (r.rootAlwaysOn) return tp;
      const sampled =
        rootSampler.shouldSample(ROOT_CONTEXT, tp.slice(3, 35), '', 0, {}, []).decision ===
        SamplingDecision.RECORD_AND_SAMPLED;
      return sampled ? tp : `${tp.slice(0, 53)}00`;
    },
    // Export failures (collector down) lose spans but never fail the app's flush or shutdown.
    forceFlush: () => flush().catch(() => {}),
    shutdown: () => stop().catch(() => {}),
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
