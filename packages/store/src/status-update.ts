import { decodeStatusEntry } from '@fleet/protocol';
import type { StatusUpdate } from './types.js';

/**
 * One status-stream entry (fields keyed by StatusField, codec in @fleet/protocol) as one StatusUpdate per
 * message id, or null when it is malformed: such an entry is acknowledged and dropped by the caller
 * rather than retried forever.
 */
export function toStatusUpdates(fields: Record<string, string | undefined>): StatusUpdate[] | null {
  const e = decodeStatusEntry(fields);
  if (!e) return null;
  return e.ids.map((id) => {
    const u: StatusUpdate = { id, status: e.status, attempt: e.attempt };
    if (e.error !== undefined) u.error = e.error;
    return u;
  });
}
