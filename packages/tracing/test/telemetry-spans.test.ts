import { isTraceparent } from '@fleet/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import {
  generateTraceparent,
  initTelemetry,
  NOOP_SPAN,
  parseTraceparent,
  spanLinksFor,
  spanTraceparent,
  startSpanFromTraceparent,
  type Telemetry,
} from '../src/index.js';

let telemetry: Telemetry | undefined;
afterEach(async () => {
  await telemetry?.shutdown();
  telemetry = undefined;
});

// Through the NodeSDK (global): its host detector reads host.id asynchronously, so even the simple
// processor hands a span to the exporter only once that is read: forceFlush before reading.
function memory(samplingRatio = 1): Telemetry {
  telemetry = initTelemetry({ serviceName: 'fleet-test', exporter: 'memory', samplingRatio, enabled: true });
  return telemetry;
}

describe('OpenTelemetry spans', () => {
  it("a span started from a message's traceparent carries the message's trace id", async () => {
    const t = memory();
    const tp = generateTraceparent();
    const msg = parseTraceparent(tp)!;
    const span = startSpanFromTraceparent(t.tracer, 'worker.handle', tp, {
      'messaging.destination': 'order.created',
    });
    span.end();
    await t.forceFlush();
    const [done] = t.memoryExporter!.getFinishedSpans();
    expect(done!.spanContext().traceId).toBe(msg.traceId);
    expect(done!.parentSpanContext?.spanId).toBe(msg.spanId);
    expect(done!.attributes['messaging.destination']).toBe('order.created');
    expect(done!.resource.attributes['service.name']).toBe('fleet-test');
    expect(spanTraceparent(span)!.slice(0, 36)).toBe(tp.slice(0, 36));
  });

  it('a batch span links every message trace', async () => {
    const t = memory();
    const tps = Array.from({ length: 5 }, () => generateTraceparent());
    const links = spanLinksFor([...tps, 'not-a-traceparent', tps[0], undefined]);
    expect(links).toHaveLength(5);
    startSpanFromTraceparent(t.tracer, 'persister.persist', undefined, { batch: 5 }, links).end();
    await t.forceFlush();
    const [done] = t.memoryExporter!.getFinishedSpans();
    expect(done!.links.map((l) => l.context.traceId)).toEqual(tps.map((tp) => parseTraceparent(tp)!.traceId));
    expect(spanLinksFor(Array.from({ length: 500 }, () => generateTraceparent()))).toHaveLength(128);
  });

  it("follows the message's sampled flag (parent-based) and the ratio for new traces", async () => {
    const t = memory(0);
    startSpanFromTraceparent(t.tracer, 'unsampled', generateTraceparent(0)).end();
    startSpanFromTraceparent(t.tracer, 'root at ratio 0', undefined).end();
    startSpanFromTraceparent(t.tracer, 'sampled parent', generateTraceparent(1)).end();
    await t.forceFlush();
    expect(t.memoryExporter!.getFinishedSpans().map((s) => s.name)).toEqual(['sampled parent']);
    const fresh = t.newTraceparent();
    expect(isTraceparent(fresh)).toBe(true);
    expect(fresh.endsWith('-00')).toBe(true);
  });

  it('newTraceparent at ratio 1 is sampled', () => {
    expect(memory(1).newTraceparent().endsWith('-01')).toBe(true);
  });

  it('disabled or exporter none: a shared no-op span, trace ids still generated', async () => {
    for (const opts of [
      { enabled: false, exporter: 'memory' as const },
      { enabled: true, exporter: 'none' as const },
    ]) {
      const t = initTelemetry({ serviceName: 'x', samplingRatio: 1, ...opts });
      expect(t.recording).toBe(false);
      const span = startSpanFromTraceparent(t.tracer, 'x', generateTraceparent());
      expect(span).toBe(NOOP_SPAN);
      expect(span.isRecording()).toBe(false);
      expect(spanTraceparent(span)).toBeUndefined();
      expect(isTraceparent(t.newTraceparent())).toBe(true);
      await t.shutdown();
    }
  });
});

describe('OTLP exporter', () => {
  it('shutdown resolves even when the collector is unreachable', async () => {
    const t = initTelemetry({
      serviceName: 'fleet-test',
      exporter: 'otlp',
      otlpEndpoint: 'http://127.0.0.1:9/v1/traces',
      samplingRatio: 1,
      enabled: true,
      global: false,
    });
    startSpanFromTraceparent(t.tracer, 'lost', generateTraceparent()).end();
    await expect(t.shutdown()).resolves.toBeUndefined();
  });
});
