-- list_dead_topic: list_dead.sql for one topic.
--  $1 limit int
--  $2 topic text
SELECT m.seq, m.id, m.stream_id, m.topic, m.type, m.priority,
  round(extract(epoch FROM m.sent_at) * 1000)::float8 AS sent_ms, m.envelope, m.headers,
  m.traceparent, m.reply_to, m.status, m.retry_count, m.last_error, m.created_at, m.updated_at
FROM messages_open o JOIN messages m ON m.seq = o.seq
WHERE o.status = 'DEAD' AND m.status = 'DEAD' AND m.topic = $2
ORDER BY o.updated_at DESC LIMIT $1
