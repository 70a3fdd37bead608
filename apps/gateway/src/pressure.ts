import type { FleetConfig } from '@fleet/config';
import { type PressureBounds, PressureMonitor } from '@fleet/pressure';
import { ENTRY_MAX_MESSAGES, type FleetKeys } from '@fleet/protocol';
import type { FleetRedis } from '@fleet/redis';
import type { Logger } from '@fleet/tracing';
import type { GatewayInstruments } from './instruments.js';

/** The gateway's marks: OVERLOADED between memory_high and memory_low (or the backlog marks without maxmemory). */
export function gatewayBounds(cfg: FleetConfig): PressureBounds {
  const p = cfg.pressure;
  return {
    memoryHigh: p.memory_high,
    memoryLow: p.memory_low,
    backlogHigh: p.max_backlog_messages,
    backlogLow: p.resume_backlog_messages,
  };
}

/**
 * The gateway's view of Redis pressure: memory and the ingest backlog, sampled on the command
 * connection every pressure.interval_ms; the gateway refuses PUBLISH/REQUEST with OVERLOADED while it
 * says so. Until this gateway has appended anything, an ingest entry counts as full (ENTRY_MAX_MESSAGES
 * messages): the backlog estimate errs on the side of refusing.
 */
export function gatewayPressure(
  redis: FleetRedis,
  keys: FleetKeys,
  config: () => FleetConfig,
  log: Logger,
  instruments: GatewayInstruments,
): PressureMonitor {
  return new PressureMonitor({
    redis,
    streams: keys.ingestStreams(),
    bounds: () => gatewayBounds(config()),
    intervalMs: () => config().pressure.interval_ms,
    log,
    what: 'publishes (answering OVERLOADED)',
    initialMessagesPerEntry: ENTRY_MAX_MESSAGES,
    onSample: (s, overloaded) => instruments.pressure?.(overloaded, s),
  });
}
