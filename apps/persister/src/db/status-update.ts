import { MessageStatus, StatusField } from '@fleet/protocol';
import type { StatusUpdate } from './types.js';

const STATUSES = new Set<string>(Object.values(MessageStatus));

/**
 * One status-stream entry (fields keyed by StatusField) as a StatusUpdate, or null when it is malformed
 * (missing id, unknown status, attempt not a non-negative integer): such an entry is acknowledged and
 * dropped by the caller rather than retried forever.
 */
export function toStatusUpdate(fields: Record<string, string | undefined>): StatusUpdate | null {
  const id = fields[StatusField.id];
  const status = fields[StatusField.status];
  const attemptText = fields[StatusField.attempt] ?? '0';
  if (!id || !status || !STATUSES.has(status) || !/^\d{1,9}$/.test(attemptText)) return null;
  const u: StatusUpdate = { id, status: status as MessageStatus, attempt: Number(attemptText) };
  const error = fields[StatusField.error];
  if (error !== undefined && error !== '') u.error = error;
  return u;
}

/** Many entries at once; malformed ones are skipped (count them via `dropped`). */
export function toStatusUpdates(entries: Array<Record<string, string | undefined>>): {
  updates: StatusUpdate[];
  dropped: number;
} {
  const updates: StatusUpdate[] = [];
  let dropped = 0;
  for (const f of entries) {
    const u = toStatusUpdate(f);
    if (u) updates.push(u);
    else dropped++;
  }
  return { updates, dropped };
}
