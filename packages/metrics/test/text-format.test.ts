import { describe, expect, it } from 'vitest';
import {
  configReloadMetrics,
  createRegistry,
  gatewayMetrics,
  persisterMetrics,
  workerMetrics,
} from '../src/index.js';
import { parsePrometheusText, TextFormatError } from './support/text-format.js';

describe('Prometheus text format', () => {
  it('the output of every metric set (with default process metrics) parses strictly', async () => {
    const registry = createRegistry({ app: 'persister', enabled: true });
    const gw = gatewayMetrics(registry);
    const ps = persisterMetrics(registry);
    const wk = workerMetrics(registry);
    const cr = configReloadMetrics(registry);
    gw.errors.labels('INVALID_TOPIC').inc();
    gw.framesIn.labels('PUBLISH').inc(3);
    gw.ackLatency.observe(0.0007);
    gw.redisAppendBatchSize.observe(64);
    ps.queueJobs.labels('messages', 'waiting').set(12);
    ps.pgQuery.labels('insert').observe(0.004);
    ps.deadLetters.labels('unrouted').inc();
    wk.messagesProcessed.labels('order', 'completed').inc();
    wk.messageLatency.observe(0.02);
    cr.reloads.labels('applied').inc();
    // A label value with every character that needs escaping.
    wk.handlerErrors.labels('quote " backslash \\ newline \n end').inc();

    const families = parsePrometheusText(await registry.metrics());
    expect(families.get('fleet_gateway_errors_total')).toMatchObject({ type: 'counter' });
    expect(families.get('fleet_gateway_ack_latency_seconds')!.type).toBe('histogram');
    expect(families.get('fleet_process_cpu_user_seconds_total')).toBeDefined();
    const reasons = families.get('fleet_worker_handler_errors_total')!.samples.map((s) => s.labels.reason);
    expect(reasons).toContain('quote " backslash \\ newline \n end');
    const waiting = families.get('fleet_queue_jobs')!.samples.find((s) => s.labels.state === 'waiting');
    expect(waiting).toMatchObject({ value: 12, labels: { queue: 'messages', app: 'persister' } });
    const buckets = families
      .get('fleet_gateway_ack_latency_seconds')!
      .samples.filter((s) => s.name.endsWith('_bucket'));
    expect(buckets[0]!.labels.le).toBe('0.0005');
    expect(buckets.at(-1)!.labels.le).toBe('+Inf');
  });

  it('rejects malformed text', () => {
    const bad = [
      'metric 1', // no trailing newline
      'bad-name 1\n',
      'm{a="1",a="2"} 1\n',
      'm{a=1} 1\n',
      'm{a="x\\q"} 1\n',
      'm one\n',
      'm 1\nm 2\n',
      '# TYPE m counter\nm -1\n',
      '# TYPE m counter\n# TYPE m gauge\nm 1\n',
      'm 1\n# TYPE m counter\n',
      'a 1\nb 1\na{x="1"} 1\n',
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="0.5"} 3\nh_bucket{le="+Inf"} 3\nh_count 3\n',
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_count 2\n',
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 2\nh_count 5\n',
    ];
    for (const text of bad)
      expect(() => parsePrometheusText(text), JSON.stringify(text)).toThrow(TextFormatError);
  });

  it('accepts the spec example', () => {
    const text = [
      '# HELP http_requests_total The total number of HTTP requests.',
      '# TYPE http_requests_total counter',
      'http_requests_total{method="post",code="200"} 1027 1395066363000',
      'http_requests_total{method="post",code="400"}    3 1395066363000',
      '',
      '# A normal comment.',
      'metric_without_timestamp_and_labels 12.47',
      '# HELP rpc_duration_seconds A summary of the RPC duration in seconds.',
      '# TYPE rpc_duration_seconds summary',
      'rpc_duration_seconds{quantile="0.5"} 4773',
      'rpc_duration_seconds_sum 1.7560473e+07',
      'rpc_duration_seconds_count 2693',
      'something_weird{problem="division by zero"} +Inf -3982045',
      '',
    ].join('\n');
    const f = parsePrometheusText(text);
    expect(f.get('http_requests_total')!.samples).toHaveLength(2);
    expect(f.get('rpc_duration_seconds')!.samples).toHaveLength(3);
    expect(f.get('something_weird')!.samples[0]!.value).toBe(Number.POSITIVE_INFINITY);
  });
});
