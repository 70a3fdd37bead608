import { decodeEnvelope, EntryField } from '@fleet/protocol';
import { errorText } from './log.js';
import type { NewMessage } from './queue-api.js';

/** One raw ingest-stream entry as read with buffer replies. */
export interface RawEntry {
  stream: string;
  id: string;
  fields: Map<string, Buffer>;
}

export type DecodedEntry =
  | { ok: true; row: NewMessage; durableAck?: string }
  | { ok: false; reason: string; fields: Record<string, string> };

/** Turns an XREAD reply's flat [field, value, ...] buffer list into a map. */
export function fieldMap(flat: Buffer[]): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!;
    // Field names are one letter (EntryField): V8 keeps one-character strings, so no allocation here.
    m.set(name.length === 1 ? String.fromCharCode(name[0]!) : name.toString(), flat[i + 1]!);
  }
  return m;
}

/** Printable copy of an entry's fields for the dead_entries table (envelope as base64; NUL, which jsonb refuses, replaced). */
function printable(fields: Map<string, Buffer>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of fields)
    out[k] =
      k === EntryField.envelope
        ? `base64:${v.toString('base64')}`
        : v.toString('utf8').replaceAll('\0', '\uFFFD');
  return out;
}

function rejected(fields: Map<string, Buffer>, reason: string): DecodedEntry {
  return { ok: false, reason, fields: printable(fields) };
}

/**
 * Decodes one ingest entry into a `messages` row. Anything the persister cannot trust (missing fields,
 * undecodable envelope, id disagreeing with the envelope) comes back as a reason for dead-lettering.
 */
export function decodeEntry(entry: RawEntry): DecodedEntry {
  const { fields } = entry;
  const bytes = fields.get(EntryField.envelope);
  const idField = fields.get(EntryField.id)?.toString('utf8');
  if (!bytes || bytes.length === 0)
    return rejected(fields, `missing field '${EntryField.envelope}' (envelope)`);
  if (!idField) return rejected(fields, `missing field '${EntryField.id}' (message id)`);
  let env: ReturnType<typeof decodeEnvelope>;
  try {
    env = decodeEnvelope(bytes);
  } catch (err) {
    return rejected(fields, `undecodable envelope: ${errorText(err)}`);
  }
  if (env.id !== idField)
    return rejected(fields, `id field '${idField}' differs from the envelope id '${env.id}'`);
  const row: NewMessage = {
    id: env.id,
    streamId: entry.id,
    envelope: bytes,
    topic: env.topic,
    type: env.type,
    priority: env.priority,
    timestamp: env.timestamp,
    headers: env.headers,
  };
  const traceparent = env.traceparent ?? fields.get(EntryField.traceparent)?.toString('utf8');
  if (traceparent) row.traceparent = traceparent;
  const replyTo = fields.get(EntryField.replyTo)?.toString('utf8');
  if (replyTo) row.replyTo = replyTo;
  const durableAck = fields.get(EntryField.durableAck)?.toString('utf8');
  return durableAck ? { ok: true, row, durableAck } : { ok: true, row };
}
