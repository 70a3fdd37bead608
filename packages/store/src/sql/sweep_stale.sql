-- sweep_stale: up to $2 PENDING / PROCESSING rows not updated for $1 ms (their job may be lost), claimed
-- by touching updated_at so the next sweep (here or in another persister) skips them for another $1 ms.
-- The age test is repeated on the locked messages row: its lock re-checks the row's latest version, so a
-- row a concurrent sweep has just touched (and committed) is skipped, not returned twice (the
-- messages_open candidate is read from this statement's older snapshot). Candidates whose row is COMPLETED
-- (or gone) leave messages_open: mirror_open.sql can put a row there as it completes (the outcome's delete
-- did not see it yet). Run mirror_open.sql first (PersistStore.sweepStale does). Returns the rows.
--  $1 older_than_ms float8
--  $2 limit         int
WITH c AS MATERIALIZED (
  SELECT seq FROM messages_open
  WHERE status IN ('PENDING', 'PROCESSING') AND updated_at < now() - $1 * interval '1 millisecond'
  LIMIT $2 * 4 + 100
), s AS MATERIALIZED (
  SELECT m.seq FROM c
  CROSS JOIN LATERAL (
    SELECT seq FROM messages
    WHERE seq = c.seq AND status IN ('PENDING', 'PROCESSING') AND updated_at < now() - $1 * interval '1 millisecond'
    FOR UPDATE SKIP LOCKED
  ) m
  LIMIT $2
), gone AS (
  DELETE FROM messages_open o WHERE o.seq = ANY(ARRAY(
    SELECT c.seq FROM c WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.seq = c.seq AND m.status <> 'COMPLETED')))
), touched AS (
  UPDATE messages m SET updated_at = now()
  FROM s WHERE m.seq = s.seq AND m.status IN ('PENDING', 'PROCESSING')
  RETURNING m.seq, m.id, m.stream_id, m.topic, m.type, m.priority,
    round(extract(epoch FROM m.sent_at) * 1000)::float8 AS sent_ms, m.envelope, m.headers,
    m.traceparent, m.reply_to, m.status, m.retry_count, m.last_error, m.created_at, m.updated_at
), mirrored AS (
  UPDATE messages_open o SET status = touched.status, updated_at = touched.updated_at
  FROM touched WHERE o.seq = ANY(ARRAY(SELECT seq FROM touched)) AND o.seq = touched.seq
)
SELECT * FROM touched
