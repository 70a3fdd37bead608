-- delete_dead_batch: retention of DEAD rows: deletes up to $2 whose updated_at is older than $1 s,
-- found through messages_open, and their messages_open rows (TID scan and re-check as in
-- delete_completed_batch.sql). Returns the number of rows deleted.
--  $1 max_age_s float8
--  $2 batch     int
WITH del AS (
  DELETE FROM messages WHERE ctid = ANY(ARRAY(
    SELECT m.ctid FROM messages_open o JOIN messages m ON m.seq = o.seq
    WHERE o.status = 'DEAD' AND o.updated_at <= now() - $1 * interval '1 second' LIMIT $2))
  AND status = 'DEAD' AND updated_at <= now() - $1 * interval '1 second'
  RETURNING seq
), closed AS (
  DELETE FROM messages_open o WHERE o.seq = ANY(ARRAY(SELECT seq FROM del))
)
SELECT count(*)::int AS n FROM del
