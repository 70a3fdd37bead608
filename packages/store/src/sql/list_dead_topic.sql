-- list_dead_topic: list_dead.sql for one topic: messages_open's DEAD rows newest first, each looked up in
-- messages by seq (a LATERAL probe with LIMIT 1, as in count_dead_topic.sql), until $1 are of the topic.
--  $1 limit int
--  $2 topic text
SELECT m.seq, m.id, m.stream_id, m.topic, m.type, m.priority, m.sent_ms, m.envelope, m.headers,
  m.traceparent, m.reply_to, m.status, m.retry_count, m.last_error, m.created_at, m.updated_at
FROM messages_open o
CROSS JOIN LATERAL (
  SELECT m.seq, m.id, m.stream_id, m.topic, m.type, m.priority,
    round(extract(epoch FROM m.sent_at) * 1000)::float8 AS sent_ms, m.envelope, m.headers,
    m.traceparent, m.reply_to, m.status, m.retry_count, m.last_error, m.created_at, m.updated_at
  FROM messages m WHERE m.seq = o.seq AND m.status = 'DEAD' AND m.topic = $2 LIMIT 1
) m
WHERE o.status = 'DEAD'
ORDER BY o.updated_at DESC LIMIT $1
