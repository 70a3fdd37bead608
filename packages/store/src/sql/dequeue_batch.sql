-- dequeue_batch: claims up to $1 PENDING rows, oldest update first, marking them PROCESSING; concurrent
-- callers get disjoint rows (SKIP LOCKED). Candidates come from messages_open (bounded to 4x the limit,
-- so the plan stays an index scan even with stale statistics) and each messages row is locked through a
-- LATERAL probe by seq. Every statement locks a message's messages row before its messages_open row, so
-- pickers and status updates cannot deadlock each other. Returns the moved rows (StoredMessage columns).
--  $1 limit int
WITH picked AS MATERIALIZED (
  SELECT m.seq FROM (
    SELECT seq FROM messages_open WHERE status = 'PENDING' ORDER BY updated_at LIMIT $1 * 4 + 100
  ) o
  CROSS JOIN LATERAL (
    SELECT seq FROM messages WHERE seq = o.seq AND status = 'PENDING' FOR UPDATE SKIP LOCKED
  ) m
  LIMIT $1
), moved AS (
  UPDATE messages m SET status = 'PROCESSING', updated_at = now()
  FROM picked WHERE m.seq = picked.seq AND m.status = 'PENDING'
  RETURNING m.seq, m.id, m.stream_id, m.topic, m.type, m.priority,
    round(extract(epoch FROM m.sent_at) * 1000)::float8 AS sent_ms, m.envelope, m.headers,
    m.traceparent, m.reply_to, m.status, m.retry_count, m.last_error, m.created_at, m.updated_at
), mirrored AS (
  UPDATE messages_open o SET status = moved.status, updated_at = moved.updated_at
  FROM moved WHERE o.seq = ANY(ARRAY(SELECT seq FROM moved)) AND o.seq = moved.seq
)
SELECT * FROM moved
