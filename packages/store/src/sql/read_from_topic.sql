-- read_from_topic: read_from.sql for one topic (its own statement, so its plan uses the (topic, seq) index).
--  $1 after_seq bigint
--  $2 limit     int
--  $3 settle_ms float8
--  $4 topic     text
SELECT m.seq, m.id, m.stream_id, m.topic, m.type, m.priority,
  round(extract(epoch FROM m.sent_at) * 1000)::float8 AS sent_ms, m.envelope, m.headers,
  m.traceparent, m.reply_to, m.status, m.retry_count, m.last_error, m.created_at, m.updated_at
FROM messages m
WHERE m.seq > $1 AND m.created_at <= now() - $3 * interval '1 millisecond' AND m.topic = $4
ORDER BY m.seq LIMIT $2
