-- delete_completed_batch: retention of COMPLETED rows: deletes up to $2 not updated for $1 seconds,
-- oldest created first through the created_at index (an updated_at this old implies a created_at
-- as old). ctid = ANY(ARRAY(...)) keeps the delete a TID scan of exactly the picked rows; the outer WHERE
-- re-checks them in case one changed between the pick and the delete. Rows deleted: the command's count.
--  $1 max_age_s float8
--  $2 batch     int
DELETE FROM messages WHERE ctid = ANY(ARRAY(
  SELECT ctid FROM messages WHERE created_at <= now() - $1 * interval '1 second'
    AND status = 'COMPLETED' AND updated_at <= now() - $1 * interval '1 second'
  ORDER BY created_at LIMIT $2))
AND status = 'COMPLETED' AND updated_at <= now() - $1 * interval '1 second'
