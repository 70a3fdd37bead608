/**
 * The BullMQ job payload: a batch of messages (1 = the classic one job per message), encoded by the
 * persister (encodeJobMessage, encodeJobData) and read back by the worker (decodeJobData).
 * Binary envelopes travel base64-encoded because BullMQ stores job data as JSON.
 */
import { isDerivedTraceMark } from './trace-ref.js';

export const JOB_NAME = 'batch';

/** Version of the payload layout (`v`); a worker reports nothing for a payload of another version. */
export const JOB_DATA_VERSION = 1;

export interface JobMessage {
  /** Message id (the `messages` row key). */
  id: string;
  /** base64 of the binary envelope. */
  e: string;
  /** Trace reference in force for this message (trace-ref.ts): the envelope's or a gateway-assigned
   *  traceparent, or a derived mark (the message id's trace). */
  t?: string;
  /** Reply address for requests (`<gatewayId>|<correlationId>`, reply.ts). */
  r?: string;
  /** Retry count of this attempt (0 on first delivery). */
  n: number;
}

export interface JobData {
  v: typeof JOB_DATA_VERSION;
  /**
   * The derived mark (trace-ref.ts) of every message of the job, carried once instead of per message:
   * written only when all of them have the same one (the persister checks the whole batch it makes jobs
   * from: messages traced under their ids with the same flags, the usual batch), read as the `t` of each
   * message without its own (decodeJobData). In the
   * tracing bench the 9 bytes of `"t":"01"` per message were most of the worker's tracing overhead.
   */
  t?: string;
  messages: JobMessage[];
}

/** What the persister knows of a message when it makes its job entry (a `messages` row or a new one). */
export interface JobSource {
  id: string;
  envelope: Buffer;
  traceparent?: string | undefined;
  replyTo?: string | undefined;
}

/*
 * Objects made by encodeJobMessage / encodeJobData (never changed afterwards): their key order and the
 * base64 alphabet of `e` are known, so encodeJobDataJson writes their JSON without JSON.stringify.
 */
const madeMessages = new WeakSet<JobMessage>();
const madeData = new WeakSet<JobData>();

/**
 * The job payload entry of one message on its `attempt` (retry count). `jobMark`: the job's shared derived
 * mark (sharedTraceMark), which the entry then leaves out.
 */
export function encodeJobMessage(msg: JobSource, attempt: number, jobMark?: string): JobMessage {
  const m: JobMessage = { id: msg.id, e: msg.envelope.toString('base64'), n: attempt };
  if (msg.traceparent && msg.traceparent !== jobMark) m.t = msg.traceparent;
  if (msg.replyTo) m.r = msg.replyTo;
  madeMessages.add(m);
  return m;
}

/**
 * The derived mark every source carries, when they all carry the same one (then it goes in the job once:
 * JobData.t); undefined otherwise (a traceparent, none, or marks that differ).
 */
export function sharedTraceMark(sources: readonly JobSource[]): string | undefined {
  const mark = sources[0]?.traceparent;
  if (mark === undefined || !isDerivedTraceMark(mark)) return undefined;
  for (let i = 1; i < sources.length; i++) if (sources[i]!.traceparent !== mark) return undefined;
  return mark;
}

/** The payload of a job; `mark`: the messages' shared derived mark, left out of each (encodeJobMessage). */
export function encodeJobData(messages: JobMessage[], mark?: string): JobData {
  const d: JobData =
    mark === undefined ? { v: JOB_DATA_VERSION, messages } : { v: JOB_DATA_VERSION, t: mark, messages };
  madeData.add(d);
  return d;
}

const JSON_V = `{"v":${JOB_DATA_VERSION},`;
const JSON_T = '"t":"';
const JSON_MESSAGES = '"messages":[';
const JSON_TAIL = ']}';
/** The text before the first message: `{"v":1,"messages":[`, or with a job mark `{"v":1,"t":"01","messages":[`. */
const jsonHead = (mark: string | undefined) =>
  mark === undefined ? `${JSON_V}${JSON_MESSAGES}` : `${JSON_V}"t":${JSON.stringify(mark)},${JSON_MESSAGES}`;

/** Below this mean `e` length (base64 characters per message) encodeJobDataJson leaves the job to JSON.stringify. */
export const JOB_JSON_MIN_MEAN_E = 1024;

/**
 * The JSON text BullMQ stores for a payload made by encodeJobData, as UTF-8 bytes: byte for byte
 * `JSON.stringify(data)`, written without it. undefined for any other object, and for jobs of small
 * messages (mean `e` under JOB_JSON_MIN_MEAN_E characters): the caller stringifies.
 * Why: JSON.stringify scans every character of `e` for escapes and builds the job's text (up to
 * queue.max_job_bytes) in pieces that are then flattened and copied again by ioredis; measured on the
 * 2-core dev box, 100 messages of 8 KB: ~20-60 µs per message that way, ~1 µs here (the base64 text is
 * copied once; only the short fields go through JSON.stringify). Per message this costs ~0.8 µs, which
 * JSON.stringify + Buffer.from beat for small envelopes (jobs of 100, node 24, minimum of 15 rounds:
 * 150 B envelopes 451 vs 788 ns per message, 400 B 869 vs 803, 1.1 KB 3,746 vs 1,762, 8.3 KB 23,096 vs
 * 1,905): hence the cut.
 */
export function encodeJobDataJson(data: JobData, minMeanE = JOB_JSON_MIN_MEAN_E): Buffer | undefined {
  if (!madeData.has(data)) return undefined;
  const head = jsonHead(data.t);
  const msgs = data.messages;
  const n = msgs.length;
  let eChars = 0;
  for (let i = 0; i < n; i++) eChars += msgs[i]!.e.length;
  if (eChars < n * minMeanE) return undefined;
  // Per message: the text before `e`, `e` (base64: ASCII, nothing to escape) and the text after it; a
  // message not made by encodeJobMessage is all `before` (JSON.stringify, null as in an array).
  const before = new Array<string>(n);
  const after = new Array<string>(n);
  let size = Buffer.byteLength(head) + JSON_TAIL.length + Math.max(0, n - 1);
  for (let i = 0; i < n; i++) {
    const m = msgs[i]!;
    if (madeMessages.has(m)) {
      before[i] = `{"id":${JSON.stringify(m.id)},"e":"`;
      let rest = `","n":${JSON.stringify(m.n)}`;
      if (m.t !== undefined) rest += `,"t":${JSON.stringify(m.t)}`;
      if (m.r !== undefined) rest += `,"r":${JSON.stringify(m.r)}`;
      after[i] = `${rest}}`;
      size += Buffer.byteLength(before[i]!) + m.e.length + Buffer.byteLength(after[i]!);
    } else {
      before[i] = JSON.stringify(m) ?? 'null';
      after[i] = '';
      size += Buffer.byteLength(before[i]!);
    }
  }
  const out = Buffer.allocUnsafe(size);
  let o = out.write(head, 0, 'utf8');
  for (let i = 0; i < n; i++) {
    if (i > 0) out[o++] = 0x2c; // ','
    o += out.write(before[i]!, o, 'utf8');
    if (after[i] === '') continue;
    o += out.write(msgs[i]!.e, o, 'latin1');
    o += out.write(after[i]!, o, 'utf8');
  }
  o += out.write(JSON_TAIL, o, 'latin1');
  if (o !== size) throw new Error(`job JSON size mismatch: ${o} != ${size}`);
  return out;
}

/** A JSON string field at `p` (after its opening quote): its text and the position after its closing
 *  quote, or null. The caller has made sure the text has no backslash (no escapes). */
function scanString(s: string, p: number, control: boolean): string | null {
  const q = s.indexOf('"', p);
  if (q < 0) return null;
  if (control) for (let i = p; i < q; i++) if (s.charCodeAt(i) < 0x20) return null; // JSON.parse refuses these
  return s.slice(p, q);
}

/** The payload layout encodeJobDataJson writes, read without JSON.parse; null for anything else. */
function scanJobData(s: string): JobData | null {
  if (!s.startsWith(JSON_V)) return null;
  let p = JSON_V.length;
  let mark: string | undefined;
  if (s.startsWith(JSON_T, p)) {
    mark = scanString(s, p + JSON_T.length, true) ?? undefined;
    if (mark === undefined) return null;
    p += JSON_T.length + mark.length + 2; // the closing quote and ','
    if (s.charCodeAt(p - 1) !== 0x2c) return null;
  }
  if (!s.startsWith(JSON_MESSAGES, p)) return null;
  p += JSON_MESSAGES.length;
  const messages: JobMessage[] = [];
  if (s.charCodeAt(p) === 0x5d)
    p++; // ']': no messages
  else
    for (;;) {
      if (!s.startsWith('{"id":"', p)) return null;
      const id = scanString(s, p + 7, true);
      if (id === null) return null;
      p += 7 + id.length + 1;
      if (!s.startsWith(',"e":"', p)) return null;
      // `e` is not checked for control characters (a per-character loop over the whole envelope): one
      // would be skipped by base64 decoding where JSON.parse refuses the payload. encodeJobDataJson
      // never writes one.
      const e = scanString(s, p + 6, false);
      if (e === null) return null;
      p += 6 + e.length + 1;
      if (!s.startsWith(',"n":', p)) return null;
      p += 5;
      const d0 = p;
      while (p < s.length && s.charCodeAt(p) >= 0x30 && s.charCodeAt(p) <= 0x39) p++;
      // 1-15 digits, no leading zero: an integer JSON.parse reads exactly.
      if (p === d0 || p - d0 > 15 || (s.charCodeAt(d0) === 0x30 && p - d0 > 1)) return null;
      const m: JobMessage = { id, e, n: Number(s.slice(d0, p)) };
      if (s.startsWith(',"t":"', p)) {
        const t = scanString(s, p + 6, true);
        if (t === null) return null;
        m.t = t;
        p += 6 + t.length + 1;
      }
      if (s.startsWith(',"r":"', p)) {
        const r = scanString(s, p + 6, true);
        if (r === null) return null;
        m.r = r;
        p += 6 + r.length + 1;
      }
      if (s.charCodeAt(p) !== 0x7d) return null; // '}'
      messages.push(m);
      const c = s.charCodeAt(p + 1);
      p += 2;
      if (c === 0x5d) break; // ']'
      if (c !== 0x2c) return null; // ','
    }
  if (p !== s.length - 1 || s.charCodeAt(p) !== 0x7d) return null;
  return mark === undefined ? { v: JOB_DATA_VERSION, messages } : { v: JOB_DATA_VERSION, t: mark, messages };
}

/**
 * A job's stored data text as JSON.parse reads it. The layout encodeJobDataJson writes (no escapes) is
 * read by a scan that finds each field's end with indexOf and slices it; anything else goes to JSON.parse.
 * Why: JSON.parse reads every character of `e` (~5-10 µs per 8 KB message on the 2-core dev box); the
 * scan ~0.3 µs.
 */
export function parseJobDataJson(text: string): unknown {
  return (text.indexOf('\\') < 0 && scanJobData(text)) || JSON.parse(text);
}

/**
 * The messages of a job payload; null when it is not one (nothing in it can be reported). Entries
 * without a string id and envelope are dropped; their envelope is decoded (and refused) per message later.
 */
export function decodeJobData(data: unknown): JobMessage[] | null {
  if (!data || typeof data !== 'object') return null;
  const d = data as { v?: unknown; t?: unknown; messages?: unknown };
  if (d.v !== JOB_DATA_VERSION || !Array.isArray(d.messages)) return null;
  const messages = (d.messages as unknown[]).filter(
    (m): m is JobMessage =>
      !!m &&
      typeof m === 'object' &&
      typeof (m as JobMessage).id === 'string' &&
      typeof (m as JobMessage).e === 'string',
  );
  // The job's mark is each message's own, unless it has one (only a derived mark is read so).
  const mark = d.t;
  if (typeof mark === 'string' && isDerivedTraceMark(mark))
    for (const m of messages) if (m.t === undefined) m.t = mark;
  return messages;
}
