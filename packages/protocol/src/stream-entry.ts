/**
 * The ingest stream entry, written by the gateway and read by the persister. One entry carries a batch of
 * messages (the messages of one gateway append): field `b` holds them packed (codec below) and field `a`
 * the time the gateway accepted them. Packing costs Redis one stream entry, one pending-list entry and one
 * XACK id per batch instead of per message, and the persister parses one buffer per batch.
 * The envelope travels as the binary envelope codec's bytes, exactly as the client sent them (no
 * re-encoding on the gateway's hot path); fields the gateway assigns travel beside it in the record.
 *
 * Entries of one message per entry (fields e, i, t, r, d, a), which the gateway wrote before batches, are
 * still read: `ingestRecords` decodes both.
 */
export const EntryField = {
  /** Packed batch of messages (encodeIngestBatch). */
  batch: 'b',
  /** Binary envelope (envelope.ts codec); single-message entries only. */
  envelope: 'e',
  /** Message id (duplicated out of the envelope so the persister can dead-letter undecodable entries by id). */
  id: 'i',
  /** Trace reference chosen by the gateway when the client sent no traceparent (trace-ref.ts: a
   *  traceparent, or the derived mark of a UUID id; else absent: the envelope's wins). */
  traceparent: 't',
  /** Reply address `<gatewayId>|<correlationId>` for REQUESTs (absent for publishes). */
  replyTo: 'r',
  /** Gateway id to notify after the Postgres commit, present only for `durable` publishes. */
  durableAck: 'd',
  /** Milliseconds since epoch when the gateway accepted it. */
  acceptedAt: 'a',
} as const;

/** Most messages one entry carries: the persister sizes its reads from it (streams.read_count messages). */
export const ENTRY_MAX_MESSAGES = 100;
/** Most envelope bytes one entry carries (a single larger message travels alone). */
export const ENTRY_MAX_BYTES = 1024 * 1024;

/** One message of an ingest entry. Absent optional fields are undefined (never ''). */
export interface IngestRecord {
  envelope: Buffer;
  id: string;
  traceparent?: string;
  replyTo?: string;
  durableAck?: string;
}

export class IngestBatchError extends Error {
  override name = 'IngestBatchError';
}

/*
 * Batch layout: version byte (1), u32 record count (a batch cut short is refused, never read as fewer
 * records), then per record
 *   u32 envelope length, envelope bytes,
 *   then four u16-length-prefixed strings: id, traceparent, replyTo, durableAck (length 0 = absent).
 * Big-endian lengths. The four strings are short (ids <= 128 bytes, gateway ids and reply addresses a few
 * dozen); 65535 bounds them all.
 */
const BATCH_VERSION = 1;
const MAX_STRING = 0xffff;

/** Bytes of a batch header. */
export const INGEST_BATCH_HEADER_BYTES = 5;

/** Bytes of one record whose parts have these byte lengths. */
export function ingestRecordSize(
  envelope: number,
  id: number,
  traceparent: number,
  replyTo: number,
  durableAck: number,
): number {
  return 4 + envelope + 8 + id + traceparent + replyTo + durableAck;
}

/** Writes the header of a batch of `count` records at `off`; returns the offset after it. */
export function writeIngestBatchHeader(buf: Buffer, off: number, count: number): number {
  buf[off] = BATCH_VERSION;
  buf.writeUInt32BE(count, off + 1);
  return off + INGEST_BATCH_HEADER_BYTES;
}

/** Writes the length prefix of a record string of `len` bytes at `off`; returns where its bytes go. */
export function writeIngestStringLength(buf: Buffer, off: number, len: number): number {
  if (len > MAX_STRING) throw new IngestBatchError(`string of ${len} bytes exceeds ${MAX_STRING}`);
  buf.writeUInt16BE(len, off);
  return off + 2;
}

/** Writes a record string: its length, then `len` bytes of `s` (`len` = its UTF-8 byte length). */
export function writeIngestString(buf: Buffer, off: number, s: string, len: number): number {
  off = writeIngestStringLength(buf, off, len);
  if (len > 0) off += buf.write(s, off, len, len === s.length ? 'latin1' : 'utf8');
  return off;
}

/** Writes a record's envelope part (u32 length + bytes) at `off`. */
export function writeIngestEnvelope(buf: Buffer, off: number, envelope: Buffer): number {
  buf.writeUInt32BE(envelope.length, off);
  return off + 4 + envelope.copy(buf, off + 4);
}

/** One batch as bytes (tests, benches and tools; the gateway writes records straight into its command). */
export function encodeIngestBatch(records: readonly IngestRecord[]): Buffer {
  const lens = records.map((r) => [
    Buffer.byteLength(r.id),
    Buffer.byteLength(r.traceparent ?? ''),
    Buffer.byteLength(r.replyTo ?? ''),
    Buffer.byteLength(r.durableAck ?? ''),
  ]);
  let size = INGEST_BATCH_HEADER_BYTES;
  records.forEach((r, i) => {
    const [a, b, c, d] = lens[i]!;
    size += ingestRecordSize(r.envelope.length, a!, b!, c!, d!);
  });
  const buf = Buffer.allocUnsafe(size);
  let off = writeIngestBatchHeader(buf, 0, records.length);
  records.forEach((r, i) => {
    const [a, b, c, d] = lens[i]!;
    off = writeIngestEnvelope(buf, off, r.envelope);
    off = writeIngestString(buf, off, r.id, a!);
    off = writeIngestString(buf, off, r.traceparent ?? '', b!);
    off = writeIngestString(buf, off, r.replyTo ?? '', c!);
    off = writeIngestString(buf, off, r.durableAck ?? '', d!);
  });
  return buf;
}

/**
 * The records of a packed batch, in order. Envelopes are views into `buf` (no copy). Throws
 * IngestBatchError for anything that is not a whole, well-formed batch.
 */
export function decodeIngestBatch(buf: Buffer): IngestRecord[] {
  if (buf.length === 0) throw new IngestBatchError('empty batch');
  if (buf[0] !== BATCH_VERSION) throw new IngestBatchError(`unknown batch version ${buf[0]}`);
  if (buf.length < INGEST_BATCH_HEADER_BYTES) throw new IngestBatchError('truncated batch header');
  const count = buf.readUInt32BE(1);
  const out: IngestRecord[] = [];
  let off = INGEST_BATCH_HEADER_BYTES;
  const end = buf.length;
  const need = (n: number, what: string) => {
    if (off + n > end) throw new IngestBatchError(`record ${out.length}: truncated ${what}`);
  };
  const str = (what: string): string => {
    need(2, `${what} length`);
    const len = buf.readUInt16BE(off);
    off += 2;
    need(len, what);
    const s = len === 0 ? '' : buf.toString('utf8', off, off + len);
    off += len;
    return s;
  };
  while (out.length < count) {
    need(4, 'envelope length');
    const len = buf.readUInt32BE(off);
    off += 4;
    need(len, 'envelope');
    const envelope = buf.subarray(off, off + len);
    off += len;
    const id = str('id');
    const traceparent = str('traceparent');
    const replyTo = str('replyTo');
    const durableAck = str('durableAck');
    const r: IngestRecord = { envelope, id };
    if (traceparent) r.traceparent = traceparent;
    if (replyTo) r.replyTo = replyTo;
    if (durableAck) r.durableAck = durableAck;
    out.push(r);
  }
  if (off !== end) throw new IngestBatchError(`${end - off} bytes after the last of ${count} records`);
  return out;
}

/** A field of a single-message entry, '' -> undefined. */
function text(fields: ReadonlyMap<string, Buffer>, name: string): string | undefined {
  const v = fields.get(name);
  return v && v.length > 0 ? v.toString('utf8') : undefined;
}

/**
 * The messages of one ingest entry (its fields by name), whichever format it has. Throws
 * IngestBatchError for a batch that does not decode, and for a single-message entry without envelope or id.
 */
export function ingestRecords(fields: ReadonlyMap<string, Buffer>): IngestRecord[] {
  const batch = fields.get(EntryField.batch);
  if (batch) return decodeIngestBatch(batch);
  const envelope = fields.get(EntryField.envelope);
  if (!envelope || envelope.length === 0)
    throw new IngestBatchError(`missing field '${EntryField.envelope}' (envelope)`);
  const id = text(fields, EntryField.id);
  if (!id) throw new IngestBatchError(`missing field '${EntryField.id}' (message id)`);
  const r: IngestRecord = { envelope, id };
  const t = text(fields, EntryField.traceparent);
  if (t) r.traceparent = t;
  const rt = text(fields, EntryField.replyTo);
  if (rt) r.replyTo = rt;
  const d = text(fields, EntryField.durableAck);
  if (d) r.durableAck = d;
  return [r];
}

/** An XRANGE/XREAD reply's flat [field, value, ...] buffer list as a map (field names as strings). */
export function entryFields(flat: readonly Buffer[]): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!;
    // Field names are one letter (EntryField): V8 keeps one-character strings, so no allocation here.
    m.set(name.length === 1 ? String.fromCharCode(name[0]!) : name.toString(), flat[i + 1]!);
  }
  return m;
}
