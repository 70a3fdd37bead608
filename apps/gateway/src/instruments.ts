import type { FleetConfig } from '@fleet/config';
import type { PressureSample } from '@fleet/pressure';

/**
 * What the gateway reports to metrics. The hot path only bumps plain numbers here (per chunk, per batch
 * or per message); metrics.ts turns them into prom-client updates once a second, so Prometheus costs the
 * hot path next to nothing.
 */
export interface GatewayInstruments {
  connectionOpened(): void;
  connectionClosed(): void;
  bytesIn(bytes: number): void;
  frameIn(type: number): void;
  /** Frames written in one socket write, `bytes` in total (ACKs dominate; counted per type by the caller). */
  framesOut(type: number, count: number): void;
  bytesOut(bytes: number): void;
  /** An ERROR frame sent, by protocol code. */
  error(code: number): void;
  /** A message accepted for appending (topic label and payload size are aggregated, not sent per message). */
  received(topic: string, envelopeBytes: number): void;
  /** Read-to-ACK latency of one publish, in ms. */
  ackLatency(ms: number): void;
  /** Read-to-ACK latency of one `durable` publish (XADD, persister commit, notice), in ms. */
  durableAckLatency(ms: number): void;
  /** Messages in one ingest entry (one XADD). */
  appendBatch(size: number): void;
  /** Called once a second with the current process-wide in-flight count and paused sockets. */
  sample(inFlight: number, pausedSockets: number, connections: number): void;
  /** Pushes what is aggregated to the metrics backend (timer and shutdown). */
  flush(): void;
  /** After each Redis pressure sample (pressure.interval_ms): the state and what it was judged on. */
  pressure?(overloaded: boolean, sample: PressureSample): void;
  /** Live config change (monitoring.topic_labels and friends). */
  configure?(cfg: FleetConfig): void;
}

const noop = () => {};
export const NOOP_INSTRUMENTS: GatewayInstruments = {
  connectionOpened: noop,
  connectionClosed: noop,
  bytesIn: noop,
  frameIn: noop,
  framesOut: noop,
  bytesOut: noop,
  error: noop,
  received: noop,
  ackLatency: noop,
  durableAckLatency: noop,
  appendBatch: noop,
  sample: noop,
  flush: noop,
};
