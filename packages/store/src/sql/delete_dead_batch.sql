-- delete_dead_batch: retention of DEAD rows: deletes up to $2 whose updated_at is older than $1 s, found
-- through messages_open (its (status, updated_at) index) and deleted by seq (seq = ANY: each partition's
-- primary key; a join read every partition's whole index, 1.8 s on a 2M-row log under load), the age
-- re-checked on the row; and their messages_open rows. Returns the number of rows deleted.
--  $1 max_age_s float8
--  $2 batch     int
WITH del AS (
  DELETE FROM messages WHERE seq = ANY(ARRAY(
    SELECT seq FROM messages_open
    WHERE status = 'DEAD' AND updated_at <= now() - $1 * interval '1 second' LIMIT $2))
  AND status = 'DEAD' AND updated_at <= now() - $1 * interval '1 second'
  RETURNING seq
), closed AS (
  DELETE FROM messages_open o WHERE o.seq = ANY(ARRAY(SELECT seq FROM del))
)
SELECT count(*)::int AS n FROM del
