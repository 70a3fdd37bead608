-- mark_failed: PENDING / PROCESSING -> FAILED with an error, for the given ids (sorted by the caller);
-- messages_open follows. Returns the number of rows changed.
--  $1 ids   text[]
--  $2 error text
WITH up AS (
  UPDATE messages m SET status = 'FAILED', last_error = $2, updated_at = now()
  FROM unnest($1::text[]) AS u(id)
  WHERE m.id = u.id AND m.status IN ('PENDING', 'PROCESSING')
  RETURNING m.seq, m.status, m.updated_at
), mirrored AS (
  UPDATE messages_open o SET status = up.status, updated_at = up.updated_at
  FROM up WHERE o.seq = ANY(ARRAY(SELECT seq FROM up)) AND o.seq = up.seq
)
SELECT count(*)::int AS n FROM up
