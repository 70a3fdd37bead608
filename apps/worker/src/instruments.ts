import type { HistogramSeries, TopicLabeler, WorkerMetrics } from '@fleet/metrics';
import type { MessageStatus } from '@fleet/protocol';

/** One topic's handler-time series and its messages counted since the last job ended, by status. */
interface TopicCounts {
  label: string;
  handler: HistogramSeries;
  pending: Map<MessageStatus, number>;
}

/** Distinct topics remembered before the cache starts over (bounded like the labeler's own). */
const TOPIC_CACHE_LIMIT = 10_000;

/**
 * The worker's per-message metrics. prom-client hashes a labels object on every labelled update, which
 * was ~10% of a worker's CPU profile with a no-op handler (bench `worker`, jobs of 100): here a topic's
 * label and handler-time series are looked up once per topic (LeanHistogram), messages are counted in
 * plain numbers and added to the prom-client counters when a job ends (jobDone), and the in-flight gauge
 * is set then too (so a scrape sees it as of the last job's end).
 */
export class WorkerInstruments {
  private readonly byTopic = new Map<string, TopicCounts>();
  private readonly dirty = new Set<TopicCounts>();
  private inflight = 0;

  constructor(
    readonly metrics: WorkerMetrics,
    private readonly labeler: TopicLabeler,
  ) {}

  /** The labeler's options changed (monitoring.* reloaded): topics are labelled anew. */
  reconfigured(): void {
    this.flush();
    this.byTopic.clear();
  }

  private counts(topic: string): TopicCounts {
    let c = this.byTopic.get(topic);
    if (c === undefined) {
      if (this.byTopic.size >= TOPIC_CACHE_LIMIT) {
        this.flush();
        this.byTopic.clear();
      }
      const label = this.labeler.label(topic);
      c = { label, handler: this.metrics.handler.labels(label), pending: new Map() };
      this.byTopic.set(topic, c);
    }
    return c;
  }

  started(): void {
    this.inflight++;
  }

  finished(): void {
    this.inflight--;
  }

  /** A message done with this status; with its handler time and envelope timestamp when it was handled. */
  processed(topic: string, status: MessageStatus, seconds?: number, sentAt?: number): void {
    const c = this.counts(topic);
    c.pending.set(status, (c.pending.get(status) ?? 0) + 1);
    this.dirty.add(c);
    if (seconds !== undefined) c.handler.observe(seconds);
    if (sentAt !== undefined) this.metrics.messageLatency.observe(Math.max(0, Date.now() - sentAt) / 1000);
  }

  /** A job ended: its counts go to prom-client. */
  jobDone(): void {
    this.metrics.jobs.inc();
    this.flush();
  }

  private flush(): void {
    for (const c of this.dirty) {
      for (const [status, n] of c.pending) this.metrics.messagesProcessed.labels(c.label, status).inc(n);
      c.pending.clear();
    }
    this.dirty.clear();
    this.metrics.inflight.set(this.inflight);
  }
}
