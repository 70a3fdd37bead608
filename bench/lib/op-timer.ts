import * as hdr from 'hdr-histogram-js';

/** Latency of one operation over a run, in ms (the benchmarks' JSON `ops` entries). */
export interface OpLatency {
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  n: number;
}

/** Times an async operation call by call into an HDR histogram (µs, up to `maxUs`). */
export class OpTimer {
  readonly h;
  constructor(maxUs = 600_000_000) {
    this.h = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: maxUs,
      numberOfSignificantValueDigits: 3,
    });
  }
  async time<T>(fn: () => Promise<T>): Promise<T> {
    const t0 = process.hrtime.bigint();
    const out = await fn();
    this.h.recordValue(Math.max(1, Number((process.hrtime.bigint() - t0) / 1000n)));
    return out;
  }
  summary(): OpLatency {
    const at = (p: number) => Math.round(this.h.getValueAtPercentile(p)) / 1000;
    return { p50_ms: at(50), p95_ms: at(95), p99_ms: at(99), n: this.h.totalCount };
  }
}
