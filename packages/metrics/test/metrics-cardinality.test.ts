import { describe, expect, it } from 'vitest';
import { cachedLabels, createRegistry, gatewayMetrics, TopicLabeler, workerMetrics } from '../src/index.js';
import { parsePrometheusText } from './support/text-format.js';

describe('label cardinality', () => {
  it('a flood of 100K distinct topics keeps /metrics small', async () => {
    const registry = createRegistry({ app: 'worker', enabled: true, defaultMetrics: false });
    const gw = gatewayMetrics(registry);
    const wk = workerMetrics(registry);
    const labeler = new TopicLabeler({ topicLabels: ['order.#'], segments: 1, maxLabels: 100 });
    const received = cachedLabels(gw.messagesReceived);
    const processed = cachedLabels(wk.messagesProcessed);
    const handler = cachedLabels(wk.handler);
    for (let i = 0; i < 100_000; i++) {
      const topic = i % 10 === 0 ? `order.n${i}` : `tenant${i}.event.${i}`;
      const label = labeler.label(topic);
      received(label).inc();
      gw.messageBytes.labels(label).inc(100);
      processed(label, i % 7 === 0 ? 'failed' : 'completed').inc();
      handler(label).observe(0.001);
    }
    const text = await registry.metrics();
    const families = parsePrometheusText(text);
    const topics = new Set(
      families.get('fleet_gateway_messages_received_total')!.samples.map((s) => s.labels.topic),
    );
    expect(topics.size).toBe(102); // order.# + 100 derived + other
    expect(topics.has('order.#')).toBe(true);
    expect(topics.has('other')).toBe(true);
    const total = families
      .get('fleet_gateway_messages_received_total')!
      .samples.reduce((a, s) => a + s.value, 0);
    expect(total).toBe(100_000);
    // 102 topic labels x (2 counters + 2 statuses + 17 histogram series) plus fixed metrics.
    expect(text.length).toBeLessThan(400_000);
    expect(text.split('\n').length).toBeLessThan(3_000);
  });
});
