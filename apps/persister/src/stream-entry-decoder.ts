import {
  DERIVED_TRACE_MARK_LENGTH,
  decodeEnvelope,
  EntryField,
  type IngestRecord,
  ingestRecords,
  isTraceRef,
} from '@fleet/protocol';
import { generateTraceparent, TRACE_FLAG_SAMPLED } from '@fleet/tracing';
import { errorText } from './log.js';
import type { NewMessage } from './queue-api.js';

/** One raw ingest-stream entry as read with buffer replies. */
export interface RawEntry {
  stream: string;
  id: string;
  fields: Map<string, Buffer>;
}

/** One message of an entry as a `messages` row, or what to dead-letter instead (streamId names it). */
export type DecodedMessage =
  | { ok: true; row: NewMessage; durableAck?: string }
  | { ok: false; streamId: string; reason: string; fields: Record<string, string> };

/** Printable copy of an entry's or record's fields for the dead_entries table (binary as base64; NUL, which jsonb refuses, replaced). */
function printable(fields: Iterable<[string, Buffer | string | undefined]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of fields) {
    if (v === undefined) continue;
    out[k] =
      typeof v !== 'string' && (k === EntryField.envelope || k === EntryField.batch)
        ? `base64:${v.toString('base64')}`
        : v.toString().replaceAll('\0', '\uFFFD');
  }
  return out;
}

function recordFields(r: IngestRecord): Iterable<[string, Buffer | string | undefined]> {
  return [
    [EntryField.envelope, r.envelope],
    [EntryField.id, r.id],
    [EntryField.traceparent, r.traceparent],
    [EntryField.replyTo, r.replyTo],
    [EntryField.durableAck, r.durableAck],
  ];
}

/** A record to dead-letter under `deadId`, with why. */
function rejected(r: IngestRecord, deadId: string, reason: string): DecodedMessage {
  return { ok: false, streamId: deadId, reason, fields: printable(recordFields(r)) };
}

/** One record as a row; anything the persister cannot trust (undecodable envelope, id disagreeing with it) as a reason. */
function decodeRecord(r: IngestRecord, streamId: string, deadId: string): DecodedMessage {
  let env: ReturnType<typeof decodeEnvelope>;
  try {
    env = decodeEnvelope(r.envelope);
  } catch (err) {
    return rejected(r, deadId, `undecodable envelope: ${errorText(err)}`);
  }
  if (env.id !== r.id)
    return rejected(r, deadId, `id field '${r.id}' differs from the envelope id '${env.id}'`);
  const row: NewMessage = {
    id: env.id,
    streamId,
    envelope: r.envelope,
    topic: env.topic,
    type: env.type,
    priority: env.priority,
    timestamp: env.timestamp,
    headers: env.headers,
  };
  const traceparent = env.traceparent ?? r.traceparent;
  if (traceparent) row.traceparent = checkedTraceRef(traceparent, env.id);
  if (r.replyTo) row.replyTo = r.replyTo;
  return r.durableAck ? { ok: true, row, durableAck: r.durableAck } : { ok: true, row };
}

/**
 * Decodes one ingest entry (a packed batch or a single message) into `messages` rows. An entry that does
 * not decode as a whole is dead-lettered under its stream id; a bad message inside a batch under
 * `<stream id>/<index>`, its neighbours persisted as usual.
 */
export function decodeEntry(entry: RawEntry): DecodedMessage[] {
  let records: IngestRecord[];
  try {
    records = ingestRecords(entry.fields);
  } catch (err) {
    return [{ ok: false, streamId: entry.id, reason: errorText(err), fields: printable(entry.fields) }];
  }
  if (records.length === 1 && !entry.fields.has(EntryField.batch))
    return [decodeRecord(records[0]!, entry.id, entry.id)];
  return records.map((r, i) => decodeRecord(r, entry.id, `${entry.id}/${i}`));
}

/**
 * A message's trace reference as rows and jobs carry it: a derived mark whose id cannot carry its trace
 * (the gateway checks only the id's shape, @fleet/protocol mayTraceById) becomes a generated traceparent
 * with its flags, so Postgres and the worker see the same trace; anything else as it came. After this,
 * a row's mark always has a traceable id (NewMessage.traceparent).
 */
function checkedTraceRef(ref: string, id: string): string {
  if (ref.length !== DERIVED_TRACE_MARK_LENGTH || isTraceRef(ref, id)) return ref;
  const flags = Number.parseInt(ref, 16);
  return generateTraceparent(Number.isNaN(flags) ? TRACE_FLAG_SAMPLED : flags);
}
