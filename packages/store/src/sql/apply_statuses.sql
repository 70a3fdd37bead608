-- apply_statuses: worker outcomes, one per id (collapsed and sorted by id by the caller), for the rows of
-- the two newest partitions of `messages` (where nearly every outcome's row is: found by id in those two
-- only, then changed by seq, one partition each); the ids not found there are returned in `missing`, for
-- apply_statuses_anywhere.sql. A row moves when it is not terminal, the outcome is not from an older
-- attempt than retry_count, and within the same attempt the outcome does not rank lower (PENDING 0 <
-- PROCESSING 1 < FAILED 2 < COMPLETED = DEAD 3: a late PROCESSING never undoes FAILED). Postgres re-checks
-- the WHERE on the newest version of a row another transaction just changed. COMPLETED rows leave
-- messages_open, the others are mirrored there. Returns the number of rows changed and the missing ids.
--  $1 ids      text[]
--  $2 statuses text[]
--  $3 errors   text[]  NULL where none; kept only for FAILED and DEAD
--  $4 attempts int[]   the retry count each outcome's job carried
WITH win AS MATERIALIZED (
  -- The first seq of the previous partition (MINVALUE when the current one is the first).
  SELECT coalesce(min(coalesce(lo, -9223372036854775808)), -9223372036854775808) AS lo FROM (
    SELECT lo FROM message_partitions WHERE opened_at IS NOT NULL ORDER BY n DESC LIMIT 2
  ) p
), u AS MATERIALIZED (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) WITH ORDINALITY AS u(id, status, error, attempt, i)
), found AS MATERIALIZED (
  SELECT m.seq, u.id, u.status, u.error, u.attempt FROM u
  JOIN messages m ON m.id = u.id AND m.seq >= (SELECT lo FROM win)
  ORDER BY u.i
), up AS (
  UPDATE messages m SET status = f.status,
    last_error = CASE WHEN f.status IN ('FAILED', 'DEAD') THEN f.error ELSE m.last_error END,
    retry_count = GREATEST(m.retry_count, f.attempt), updated_at = now()
  FROM found f
  WHERE m.seq = f.seq
    AND m.status NOT IN ('COMPLETED', 'DEAD') AND f.attempt >= m.retry_count
    AND (f.attempt > m.retry_count
      OR CASE f.status WHEN 'PENDING' THEN 0 WHEN 'PROCESSING' THEN 1 WHEN 'FAILED' THEN 2 ELSE 3 END
         >= CASE m.status WHEN 'PENDING' THEN 0 WHEN 'PROCESSING' THEN 1 WHEN 'FAILED' THEN 2 ELSE 3 END)
  RETURNING m.seq, m.status, m.updated_at
), closed AS (
  DELETE FROM messages_open o USING up WHERE o.seq = up.seq AND up.status = 'COMPLETED'
), mirrored AS (
  UPDATE messages_open o SET status = up.status, updated_at = up.updated_at
  FROM up WHERE o.seq = up.seq AND up.status <> 'COMPLETED'
)
SELECT (SELECT count(*)::int FROM up) AS n,
  ARRAY(SELECT u.id FROM u WHERE NOT EXISTS (SELECT 1 FROM found f WHERE f.id = u.id) ORDER BY u.i) AS missing
