-- replay_dead: DEAD -> PENDING for the given ids (sorted by the caller), as one more attempt:
-- retry_count + 1 keeps outcomes of the old attempts stale. Returns the rows, for re-dispatch.
--  $1 ids text[]
WITH moved AS (
  UPDATE messages m SET status = 'PENDING', retry_count = m.retry_count + 1, updated_at = now()
  FROM unnest($1::text[]) AS u(id) WHERE m.id = u.id AND m.status = 'DEAD'
  RETURNING m.seq, m.id, m.stream_id, m.topic, m.type, m.priority,
    round(extract(epoch FROM m.sent_at) * 1000)::float8 AS sent_ms, m.envelope, m.headers,
    m.traceparent, m.reply_to, m.status, m.retry_count, m.last_error, m.created_at, m.updated_at
), mirrored AS (
  UPDATE messages_open o SET status = moved.status, updated_at = moved.updated_at
  FROM moved WHERE o.seq = ANY(ARRAY(SELECT seq FROM moved)) AND o.seq = moved.seq
)
SELECT * FROM moved
