import type { FleetConfig } from '@fleet/config';
import { cachedLabels, gatewayMetrics, type Registry, TopicLabeler } from '@fleet/metrics';
import { memoryRatio } from '@fleet/pressure';
import { errorCodeName, FrameType, INVALID_FRAME_TYPE } from '@fleet/protocol';
import type { GatewayInstruments } from './instruments.js';

const FRAME_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(FrameType).map(([name, code]) => [code, name.toLowerCase()]),
);
FRAME_NAMES[INVALID_FRAME_TYPE] = 'invalid';
/** Slots of the per-type frame counters: every FrameType fits; a larger type byte counts as invalid. */
const FRAME_TYPE_SLOTS = 16;
/** Distinct topics aggregated between two flushes; further new ones go uncounted (memory under a topic flood). */
const MAX_TOPICS_PER_FLUSH = 10_000;
const MS_PER_S = 1_000;

/**
 * Gateway instruments backed by @fleet/metrics' gatewayMetrics. Counters are aggregated in plain numbers
 * and pushed to prom-client by flush() (once a second and at shutdown); only the ACK latency histogram is
 * observed per message.
 */
export function prometheusInstruments(registry: Registry, cfg: FleetConfig): GatewayInstruments {
  const m = gatewayMetrics(registry);
  const labelerOptions = (c: FleetConfig) => ({
    topicLabels: c.monitoring.topic_labels,
    segments: c.monitoring.topic_label_segments,
    maxLabels: c.monitoring.max_topic_labels,
  });
  const labeler = new TopicLabeler(labelerOptions(cfg));
  const framesIn = cachedLabels(m.framesIn);
  const framesOut = cachedLabels(m.framesOut);
  const errors = cachedLabels(m.errors);
  const received = cachedLabels(m.messagesReceived);
  const receivedBytes = cachedLabels(m.messageBytes);

  const inByType = new Float64Array(FRAME_TYPE_SLOTS);
  const outByType = new Float64Array(FRAME_TYPE_SLOTS);
  const errByCode = new Map<number, number>();
  let bytesIn = 0;
  let bytesOut = 0;
  let opened = 0;
  let byTopic = new Map<string, [number, number]>();

  return {
    connectionOpened() {
      opened++;
      m.connections.inc();
    },
    connectionClosed() {
      m.connections.dec();
    },
    bytesIn(n) {
      bytesIn += n;
    },
    frameIn(type) {
      inByType[type < FRAME_TYPE_SLOTS ? type : INVALID_FRAME_TYPE]!++;
    },
    framesOut(type, count) {
      outByType[type]! += count;
    },
    bytesOut(n) {
      bytesOut += n;
    },
    error(code) {
      errByCode.set(code, (errByCode.get(code) ?? 0) + 1);
    },
    received(topic, bytes) {
      const t = byTopic.get(topic);
      if (t) {
        t[0]++;
        t[1] += bytes;
      } else if (byTopic.size < MAX_TOPICS_PER_FLUSH) byTopic.set(topic, [1, bytes]);
    },
    ackLatency(ms) {
      m.ackLatency.observe(ms / MS_PER_S);
    },
    durableAckLatency(ms) {
      m.durableAckLatency.observe(ms / MS_PER_S);
    },
    appendBatch(size) {
      m.redisAppendBatchSize.observe(size);
    },
    sample(inFlight, paused) {
      m.inflight.set(inFlight);
      m.pausedSockets.set(paused);
    },
    pressure(overloaded, s) {
      m.overloaded.set(overloaded ? 1 : 0);
      m.redisMemoryRatio.set(memoryRatio(s));
      m.ingestBacklog.set(s.backlogMessages);
    },
    configure(next) {
      labeler.configure(labelerOptions(next));
    },
    flush() {
      if (opened) m.connectionsTotal.inc(opened);
      opened = 0;
      if (bytesIn) m.bytesIn.inc(bytesIn);
      if (bytesOut) m.bytesOut.inc(bytesOut);
      bytesIn = 0;
      bytesOut = 0;
      for (let t = 0; t < FRAME_TYPE_SLOTS; t++) {
        if (inByType[t]) framesIn(FRAME_NAMES[t] ?? 'invalid').inc(inByType[t]);
        if (outByType[t]) framesOut(FRAME_NAMES[t] ?? 'invalid').inc(outByType[t]);
      }
      inByType.fill(0);
      outByType.fill(0);
      for (const [code, n] of errByCode) errors(errorCodeName[code] ?? String(code)).inc(n);
      errByCode.clear();
      const topics = byTopic;
      byTopic = new Map();
      for (const [topic, [n, bytes]] of topics) {
        const label = labeler.label(topic);
        received(label).inc(n);
        receivedBytes(label).inc(bytes);
      }
    },
  };
}
