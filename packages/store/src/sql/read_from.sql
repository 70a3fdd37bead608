-- read_from: durable-log replay, every topic: rows with seq > $1 in seq order, created at least $3 ms
-- ago (a tail reader stays behind transactions still committing: a lower seq can commit after a higher).
--  $1 after_seq bigint
--  $2 limit     int
--  $3 settle_ms float8
SELECT m.seq, m.id, m.stream_id, m.topic, m.type, m.priority,
  round(extract(epoch FROM m.sent_at) * 1000)::float8 AS sent_ms, m.envelope, m.headers,
  m.traceparent, m.reply_to, m.status, m.retry_count, m.last_error, m.created_at, m.updated_at
FROM messages m
WHERE m.seq > $1 AND m.created_at <= now() - $3 * interval '1 millisecond'
ORDER BY m.seq LIMIT $2
