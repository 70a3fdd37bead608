-- delete_dead_entries: retention of undecodable stream entries: deletes up to $2 created more than $1 s
-- ago. Rows deleted: the command's count.
--  $1 max_age_s float8
--  $2 batch     int
DELETE FROM dead_entries WHERE ctid = ANY(ARRAY(
  SELECT ctid FROM dead_entries WHERE created_at < now() - $1 * interval '1 second' LIMIT $2))
