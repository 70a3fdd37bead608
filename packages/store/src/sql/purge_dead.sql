-- purge_dead: deletes the given DEAD rows (ids sorted by the caller) and their messages_open rows.
-- Returns the number of rows deleted.
--  $1 ids text[]
WITH del AS (
  DELETE FROM messages m USING unnest($1::text[]) AS u(id) WHERE m.id = u.id AND m.status = 'DEAD'
  RETURNING m.seq
), closed AS (
  DELETE FROM messages_open o WHERE o.seq = ANY(ARRAY(SELECT seq FROM del))
)
SELECT count(*)::int AS n FROM del
