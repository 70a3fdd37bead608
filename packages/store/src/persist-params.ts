import { compareStreamIds, DERIVED_TRACE_MARK_LENGTH, derivedTraceparent } from '@fleet/protocol';
import { isPgText, toPgJsonMap, toPgNumberArray, toPgTextArray } from './sql-text.js';
import type { NewMessage, OffsetUpdate } from './types.js';

/** One offset per (group, topic): the furthest; in key order so concurrent upserts lock rows alike. */
function latestOffsets(offsets: OffsetUpdate[]): OffsetUpdate[] {
  const best = new Map<string, OffsetUpdate>();
  for (const o of offsets) {
    const key = `${o.group}\u0000${o.topic}`;
    const cur = best.get(key);
    if (!cur || compareStreamIds(o.offset, cur.offset) >= 0) best.set(key, o);
  }
  return [...best.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o);
}

/**
 * The 15 parameters of sql/persist_batch.sql (fleet_persist_batch), in their order, for `rows`
 * (a repeated id counts once; inserted in id order, so persisters replaying overlapping batches do not
 * deadlock) and `offsets`. Rows Postgres text cannot hold (NUL in a lifted field) are left out and named
 * in `invalid`.
 */
export function persistParams(
  rows: readonly NewMessage[],
  offsets: OffsetUpdate[],
): { values: unknown[]; invalid: string[] } {
  const invalid = new Set<string>();
  const byId = new Map<string, NewMessage>();
  for (const r of rows) {
    if (byId.has(r.id) || invalid.has(r.id)) continue;
    if (
      !isPgText(r.id) ||
      !isPgText(r.topic) ||
      !isPgText(r.type) ||
      !isPgText(r.streamId) ||
      !isPgText(r.replyTo ?? '')
    ) {
      invalid.add(r.id);
      continue;
    }
    byId.set(r.id, r);
  }
  const ids = [...byId.keys()].sort();
  const n = ids.length;
  const streamIds = new Array<string>(n);
  const topics = new Array<string>(n);
  const types = new Array<string>(n);
  const priorities = new Array<number>(n);
  const timestamps = new Array<number>(n);
  const envelopes = new Array<Buffer>(n);
  const envAt = new Array<number>(n);
  const envLen = new Array<number>(n);
  let at = 1; // substring() positions are 1-based
  const headers = new Array<string>(n);
  const traceparents = new Array<string | null>(n);
  const replyTos = new Array<string | null>(n);
  for (let i = 0; i < n; i++) {
    const r = byId.get(ids[i] as string) as NewMessage;
    streamIds[i] = r.streamId;
    topics[i] = r.topic;
    types[i] = r.type;
    priorities[i] = r.priority;
    timestamps[i] = r.timestamp;
    envelopes[i] = r.envelope;
    envAt[i] = at;
    envLen[i] = r.envelope.length;
    at += r.envelope.length;
    headers[i] = toPgJsonMap(r.headers);
    // Postgres keeps full traceparents (its trace_id column is cut from one): a derived mark is made full
    // here, unchecked (NewMessage.traceparent: a mark's id is traceable; the persister's decoder checked).
    const ref = r.traceparent;
    const tp = ref?.length === DERIVED_TRACE_MARK_LENGTH ? derivedTraceparent(ref, r.id) : ref;
    traceparents[i] = tp !== undefined && isPgText(tp) ? tp : null;
    replyTos[i] = r.replyTo ?? null;
  }
  const off = latestOffsets(offsets);
  const values = [
    toPgTextArray(ids),
    toPgTextArray(streamIds),
    toPgTextArray(topics),
    toPgTextArray(types),
    toPgNumberArray(priorities, 'int2'),
    toPgNumberArray(timestamps, 'float8'),
    toPgNumberArray(envAt, 'int4'),
    toPgNumberArray(envLen, 'int4'),
    Buffer.concat(envelopes, at - 1),
    toPgTextArray(headers),
    toPgTextArray(traceparents),
    toPgTextArray(replyTos),
    off.map((o) => o.group),
    off.map((o) => o.topic),
    off.map((o) => o.offset),
  ];
  return { values, invalid: [...invalid] };
}
