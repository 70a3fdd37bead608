-- replay_dead_all: replay_dead.sql for every DEAD row, in seq order, at most $1 of them (NULL: all);
-- rows another transaction holds are skipped. Candidates and locking as in dequeue_batch.sql.
--  $1 limit int  NULL: no limit
WITH d AS MATERIALIZED (
  SELECT m.seq FROM (
    SELECT seq FROM messages_open WHERE status = 'DEAD' ORDER BY seq LIMIT $1 * 4 + 100
  ) o
  CROSS JOIN LATERAL (
    SELECT seq FROM messages WHERE seq = o.seq AND status = 'DEAD' FOR UPDATE SKIP LOCKED
  ) m
  LIMIT $1
), moved AS (
  UPDATE messages m SET status = 'PENDING', retry_count = m.retry_count + 1, updated_at = now()
  FROM d WHERE m.seq = d.seq AND m.status = 'DEAD'
  RETURNING m.seq, m.id, m.stream_id, m.topic, m.type, m.priority,
    round(extract(epoch FROM m.sent_at) * 1000)::float8 AS sent_ms, m.envelope, m.headers,
    m.traceparent, m.reply_to, m.status, m.retry_count, m.last_error, m.created_at, m.updated_at
), mirrored AS (
  UPDATE messages_open o SET status = moved.status, updated_at = moved.updated_at
  FROM moved WHERE o.seq = ANY(ARRAY(SELECT seq FROM moved)) AND o.seq = moved.seq
)
SELECT * FROM moved
