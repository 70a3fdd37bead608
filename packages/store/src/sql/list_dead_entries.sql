-- list_dead_entries: undecodable stream entries, most recent first.
--  $1 limit int
SELECT stream, stream_id, reason, fields, created_at FROM dead_entries ORDER BY created_at DESC LIMIT $1
