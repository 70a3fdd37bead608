/**
 * The BullMQ job payload: a batch of messages (1 = the classic one job per message), encoded by the
 * persister (encodeJobMessage, encodeJobData) and read back by the worker (decodeJobData).
 * Binary envelopes travel base64-encoded because BullMQ stores job data as JSON.
 */
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
  messages: JobMessage[];
}

/** What the persister knows of a message when it makes its job entry (a `messages` row or a new one). */
export interface JobSource {
  id: string;
  envelope: Buffer;
  traceparent?: string | undefined;
  replyTo?: string | undefined;
}

/** The job payload entry of one message on its `attempt` (retry count). */
export function encodeJobMessage(msg: JobSource, attempt: number): JobMessage {
  const m: JobMessage = { id: msg.id, e: msg.envelope.toString('base64'), n: attempt };
  if (msg.traceparent) m.t = msg.traceparent;
  if (msg.replyTo) m.r = msg.replyTo;
  return m;
}

export function encodeJobData(messages: JobMessage[]): JobData {
  return { v: JOB_DATA_VERSION, messages };
}

/**
 * The messages of a job payload; null when it is not one (nothing in it can be reported). Entries
 * without a string id and envelope are dropped; their envelope is decoded (and refused) per message later.
 */
export function decodeJobData(data: unknown): JobMessage[] | null {
  if (!data || typeof data !== 'object') return null;
  const d = data as { v?: unknown; messages?: unknown };
  if (d.v !== JOB_DATA_VERSION || !Array.isArray(d.messages)) return null;
  return (d.messages as unknown[]).filter(
    (m): m is JobMessage =>
      !!m &&
      typeof m === 'object' &&
      typeof (m as JobMessage).id === 'string' &&
      typeof (m as JobMessage).e === 'string',
  );
}
