-- insert_dead_entry: keeps an undecodable stream entry for ops, once per (stream, stream id).
--  $1 stream    text
--  $2 stream_id text
--  $3 reason    text
--  $4 fields    text  a JSON object of the entry's fields
INSERT INTO dead_entries (stream, stream_id, reason, fields) VALUES ($1, $2, $3, $4::jsonb)
ON CONFLICT (stream, stream_id) DO NOTHING
