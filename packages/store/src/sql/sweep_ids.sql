-- sweep_ids: sweep_stale for named rows: those of $1 (sorted by the caller: locked in id order) that are
-- first-attempt PENDING rows not updated for $2 ms, claimed by touching updated_at, so a concurrent or
-- repeated pass does not return them again. Returns the rows.
--  $1 ids           text[]
--  $2 older_than_ms float8
WITH touched AS (
  UPDATE messages m SET updated_at = now()
  FROM unnest($1::text[]) AS u(id)
  WHERE m.id = u.id AND m.status = 'PENDING' AND m.retry_count = 0
    AND m.updated_at < now() - $2 * interval '1 millisecond'
  RETURNING m.seq, m.id, m.stream_id, m.topic, m.type, m.priority,
    round(extract(epoch FROM m.sent_at) * 1000)::float8 AS sent_ms, m.envelope, m.headers,
    m.traceparent, m.reply_to, m.status, m.retry_count, m.last_error, m.created_at, m.updated_at
), mirrored AS (
  UPDATE messages_open o SET status = touched.status, updated_at = touched.updated_at
  FROM touched WHERE o.seq = ANY(ARRAY(SELECT seq FROM touched)) AND o.seq = touched.seq
)
SELECT * FROM touched
