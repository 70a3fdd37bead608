// The worker's metrics count every message exactly once, by topic label and status, whatever the
// batching of their updates (counts reach prom-client when a job ends).
import { createRegistry, TopicLabeler, workerMetrics } from '@fleet/metrics';
import { MessageStatus } from '@fleet/protocol';
import { describe, expect, it } from 'vitest';
import { WorkerInstruments } from '../src/instruments.js';

describe('WorkerInstruments', () => {
  it('counts each message once by topic label and status, and leaves in-flight at zero', async () => {
    const registry = createRegistry({ app: 'worker', enabled: true, defaultMetrics: false });
    const m = workerMetrics(registry);
    const labeler = new TopicLabeler({ topicLabels: [], segments: 1, maxLabels: 100 });
    const ins = new WorkerInstruments(m, labeler);
    for (let job = 0; job < 3; job++) {
      for (let i = 0; i < 10; i++) {
        ins.started();
        ins.processed(i % 2 ? 'order.created' : 'payment.done', MessageStatus.COMPLETED, 0.001, Date.now());
        ins.finished();
      }
      ins.processed('order.created', MessageStatus.DEAD);
      ins.jobDone();
    }
    // A label change mid-way (monitoring reloaded) flushes what was counted under the old labels.
    ins.processed('order.created', MessageStatus.FAILED, 0.002, Date.now());
    ins.reconfigured();
    const text = await registry.metrics();
    const value = (series: string) =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(series))
          ?.split(' ')
          .pop(),
      );
    expect(value('fleet_worker_messages_processed_total{topic="order",status="COMPLETED"')).toBe(15);
    expect(value('fleet_worker_messages_processed_total{topic="payment",status="COMPLETED"')).toBe(15);
    expect(value('fleet_worker_messages_processed_total{topic="order",status="DEAD"')).toBe(3);
    expect(value('fleet_worker_messages_processed_total{topic="order",status="FAILED"')).toBe(1);
    expect(value('fleet_worker_handler_seconds_count{topic="order"')).toBe(16);
    expect(value('fleet_message_latency_seconds_count')).toBe(31);
    expect(value('fleet_worker_jobs_total')).toBe(3);
    expect(value('fleet_worker_inflight')).toBe(0);
  });
});
