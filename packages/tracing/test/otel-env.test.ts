// The precedence of OpenTelemetry settings: OTEL_* variables > the YAML tracing section > defaults, field by
// field (resolveTracing, read by initTelemetry before it starts the NodeSDK). Spans off must mean the no-op
// tracer (the hot path's one comparison), whichever side turned them off.
// Mutation tried: resolveTracing ignoring OTEL_SDK_DISABLED (`const enabled = opts.enabled`): the first test
// fails (spans 'env', not 'off'); the OTLP process test alone still passed then, since the NodeSDK honours
// the variable as well, but with a recording, non-no-op tracer.
import { AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { resolveTracing } from '../src/index.js';

const yaml = {
  exporter: 'none' as const,
  otlpEndpoint: 'http://yaml:4318/v1/traces',
  samplingRatio: 0.5,
  enabled: true,
};
const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };

describe('OTEL_* variables over the YAML tracing section', () => {
  it('OTEL_SDK_DISABLED=true turns spans off whatever else is set; false overrides enabled: false', () => {
    expect(
      resolveTracing({ ...yaml, exporter: 'otlp' }, { ...endpoint, OTEL_SDK_DISABLED: 'true' }),
    ).toMatchObject({
      enabled: false,
      spans: 'off',
    });
    expect(
      resolveTracing({ ...yaml, enabled: false }, { ...endpoint, OTEL_SDK_DISABLED: 'false' }),
    ).toMatchObject({
      enabled: true,
      spans: 'env',
    });
    expect(resolveTracing({ ...yaml, enabled: false }, endpoint).spans).toBe('off');
    expect(resolveTracing(yaml, { OTEL_SDK_DISABLED: 'maybe' }).warnings).toHaveLength(1);
  });

  it('an OTLP endpoint variable or OTEL_TRACES_EXPORTER replaces the YAML exporter and endpoint', () => {
    expect(resolveTracing(yaml, {}).spans).toBe('off');
    expect(resolveTracing({ ...yaml, exporter: 'otlp' }, {})).toMatchObject({
      spans: 'otlp',
      otlpEndpoint: yaml.otlpEndpoint,
    });
    for (const env of [
      endpoint,
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' },
      { OTEL_TRACES_EXPORTER: 'console' },
    ]) {
      const r = resolveTracing({ ...yaml, exporter: 'otlp' }, env);
      expect(r.spans).toBe('env');
      expect(r.otlpEndpoint).toBeUndefined();
    }
    expect(
      resolveTracing({ ...yaml, exporter: 'otlp' }, { ...endpoint, OTEL_TRACES_EXPORTER: 'none' }).spans,
    ).toBe('off');
    // Exporters chosen in code (tests, benches) stay.
    expect(resolveTracing({ ...yaml, exporter: 'memory' }, endpoint).spans).toBe('memory');
  });

  it('OTEL_TRACES_SAMPLER (+ _ARG) replaces sampling_ratio; always_off means no spans', () => {
    const fromYaml = resolveTracing(yaml, endpoint);
    expect(fromYaml.sampler).toBeInstanceOf(ParentBasedSampler);
    expect(fromYaml.rootSampler.toString()).toBe(new TraceIdRatioBasedSampler(0.5).toString());

    const ratio = resolveTracing(yaml, {
      ...endpoint,
      OTEL_TRACES_SAMPLER: 'traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
    });
    expect(ratio.parentBased).toBe(false);
    expect(ratio.sampler.toString()).toBe(new TraceIdRatioBasedSampler(0.25).toString());

    const on = resolveTracing(yaml, { ...endpoint, OTEL_TRACES_SAMPLER: 'always_on' });
    expect(on.sampler).toBeInstanceOf(AlwaysOnSampler);
    expect(on.rootAlwaysOn).toBe(true);

    expect(resolveTracing(yaml, { ...endpoint, OTEL_TRACES_SAMPLER: 'always_off' }).spans).toBe('off');
    // parentbased_always_off still records the spans of sampled messages.
    expect(resolveTracing(yaml, { ...endpoint, OTEL_TRACES_SAMPLER: 'parentbased_always_off' }).spans).toBe(
      'env',
    );

    const bad = resolveTracing(yaml, { ...endpoint, OTEL_TRACES_SAMPLER: 'jaeger_remote' });
    expect(bad.warnings[0]).toMatch(/OTEL_TRACES_SAMPLER=jaeger_remote/);
    expect(bad.rootSampler.toString()).toBe(new TraceIdRatioBasedSampler(0.5).toString());
  });
});
