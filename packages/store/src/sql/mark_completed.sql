-- mark_completed: PENDING / PROCESSING / FAILED -> COMPLETED for the given ids (sorted by the caller, so
-- rows are locked in id order); their messages_open rows are deleted. Returns the number of rows changed.
--  $1 ids text[]
WITH up AS (
  UPDATE messages m SET status = 'COMPLETED', updated_at = now()
  FROM unnest($1::text[]) AS u(id)
  WHERE m.id = u.id AND m.status IN ('PENDING', 'PROCESSING', 'FAILED')
  RETURNING m.seq
), closed AS (
  DELETE FROM messages_open o WHERE o.seq = ANY(ARRAY(SELECT seq FROM up))
)
SELECT count(*)::int AS n FROM up
