-- reprocess_failed: up to $2 FAILED rows (oldest update first, rows another transaction holds skipped):
-- those with retry_count < $1 -> PENDING with retry_count + 1 (the new attempt), the others -> DEAD.
-- Candidates and locking as in dequeue_batch.sql. Returns the changed rows (StoredMessage columns).
--  $1 max_retries int
--  $2 limit       int
WITH f AS MATERIALIZED (
  SELECT m.seq FROM (
    SELECT seq FROM messages_open WHERE status = 'FAILED' ORDER BY updated_at LIMIT $2 * 4 + 100
  ) o
  CROSS JOIN LATERAL (
    SELECT seq FROM messages WHERE seq = o.seq AND status = 'FAILED' FOR UPDATE SKIP LOCKED
  ) m
  LIMIT $2
), moved AS (
  UPDATE messages m SET
    status = CASE WHEN m.retry_count < $1 THEN 'PENDING' ELSE 'DEAD' END,
    retry_count = CASE WHEN m.retry_count < $1 THEN m.retry_count + 1 ELSE m.retry_count END,
    updated_at = now()
  FROM f WHERE m.seq = f.seq AND m.status = 'FAILED'
  RETURNING m.seq, m.id, m.stream_id, m.topic, m.type, m.priority,
    round(extract(epoch FROM m.sent_at) * 1000)::float8 AS sent_ms, m.envelope, m.headers,
    m.traceparent, m.reply_to, m.status, m.retry_count, m.last_error, m.created_at, m.updated_at
), mirrored AS (
  UPDATE messages_open o SET status = moved.status, updated_at = moved.updated_at
  FROM moved WHERE o.seq = ANY(ARRAY(SELECT seq FROM moved)) AND o.seq = moved.seq
)
SELECT * FROM moved
