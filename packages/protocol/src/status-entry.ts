import { MessageStatus } from './status.js';

/** Fields of one status-stream entry (worker -> persister). */
export const StatusField = {
  /** One message id (an entry for a single message). */
  id: 'i',
  /** JSON array of message ids sharing the entry's status, attempt and error (one entry per job). */
  ids: 'I',
  /** PROCESSING | COMPLETED | FAILED | DEAD */
  status: 's',
  /** Error text for FAILED / DEAD (e.g. `unrouted`). */
  error: 'x',
  /** Retry count the outcome belongs to (stale outcomes of older attempts are ignored). */
  attempt: 'n',
  /** Milliseconds since epoch when the outcome happened. */
  at: 'a',
} as const;

/**
 * One status-stream entry: the outcome shared by one or more messages (same status, attempt and error).
 * A worker writes one entry per distinct outcome of a job (usually one for the whole job), not one per
 * message: a batch of 100 costs one XADD, one stream entry to read and one small parse.
 */
export interface StatusEntry {
  ids: string[];
  status: MessageStatus;
  /** Retry count the outcome belongs to (stale outcomes of older attempts are ignored). */
  attempt: number;
  /** Error text for FAILED / DEAD. */
  error?: string;
  /** Milliseconds since epoch when the outcome happened. */
  at?: number;
}

/** One message's outcome, as a worker knows it. */
export interface MessageOutcome {
  id: string;
  status: MessageStatus;
  attempt: number;
  error?: string;
  at?: number;
}

/** Longest error text put in a status entry (the full error is in the worker's log). */
export const MAX_STATUS_ERROR = 1_000;

const STATUSES = new Set<string>(Object.values(MessageStatus));

/** Outcomes grouped into entries, one per distinct (status, attempt, error), in first-seen order. */
export function groupOutcomes(outcomes: readonly MessageOutcome[]): StatusEntry[] {
  const groups = new Map<string, StatusEntry>();
  for (const o of outcomes) {
    const key = `${o.status}\u0000${o.attempt}\u0000${o.error ?? ''}`;
    const g = groups.get(key);
    if (g) {
      g.ids.push(o.id);
      if (o.at !== undefined && (g.at === undefined || o.at > g.at)) g.at = o.at;
    } else {
      const e: StatusEntry = { ids: [o.id], status: o.status, attempt: o.attempt };
      if (o.error !== undefined) e.error = o.error;
      if (o.at !== undefined) e.at = o.at;
      groups.set(key, e);
    }
  }
  return [...groups.values()];
}

/** The entry's XADD field/value list. */
export function encodeStatusEntry(e: StatusEntry): string[] {
  const f =
    e.ids.length === 1 ? [StatusField.id, e.ids[0] as string] : [StatusField.ids, JSON.stringify(e.ids)];
  f.push(StatusField.status, e.status, StatusField.attempt, String(e.attempt));
  if (e.at !== undefined) f.push(StatusField.at, String(e.at));
  if (e.error !== undefined) f.push(StatusField.error, e.error.slice(0, MAX_STATUS_ERROR));
  return f;
}

/**
 * Reads an entry's fields; null when it is malformed (no ids, ids not a JSON array of non-empty strings,
 * unknown status, attempt not a non-negative integer): the reader acknowledges and drops such an entry.
 */
export function decodeStatusEntry(fields: Record<string, string | undefined>): StatusEntry | null {
  const status = fields[StatusField.status];
  const attemptText = fields[StatusField.attempt] ?? '0';
  if (!status || !STATUSES.has(status) || !/^\d{1,9}$/.test(attemptText)) return null;
  const ids = readIds(fields);
  if (!ids) return null;
  const e: StatusEntry = { ids, status: status as MessageStatus, attempt: Number(attemptText) };
  const error = fields[StatusField.error];
  if (error !== undefined && error !== '') e.error = error;
  const at = fields[StatusField.at];
  if (at !== undefined && /^\d{1,15}$/.test(at)) e.at = Number(at);
  return e;
}

function readIds(fields: Record<string, string | undefined>): string[] | null {
  const one = fields[StatusField.id];
  const many = fields[StatusField.ids];
  if (many === undefined) return one ? [one] : null;
  let ids: unknown;
  try {
    ids = JSON.parse(many);
  } catch {
    return null;
  }
  if (!Array.isArray(ids) || ids.length === 0) return null;
  for (const id of ids) if (typeof id !== 'string' || id === '') return null;
  return ids as string[];
}
