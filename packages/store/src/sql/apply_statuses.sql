-- apply_statuses: worker outcomes, one per id (collapsed and sorted by id by the caller), for the rows of
-- the two newest partitions of `messages` (where nearly every outcome's row is: each id probes those two
-- partitions only); the ids it changed no row for are returned in `missing`, for
-- apply_statuses_anywhere.sql (rows of older partitions; a stale outcome is looked up there too, and
-- changes nothing). A row moves when it is not terminal, the outcome is not from an older
-- attempt than retry_count, and within the same attempt the outcome does not rank lower (PENDING 0 <
-- PROCESSING 1 < FAILED 2 < COMPLETED = DEAD 3: a late PROCESSING never undoes FAILED). Postgres re-checks
-- the WHERE on the newest version of a row another transaction just changed. COMPLETED rows leave
-- messages_open, the others are mirrored there. Returns the number of rows changed and the ids left.
--  $1 ids      text[]
--  $2 statuses text[]
--  $3 errors   text[]  NULL where none; kept only for FAILED and DEAD
--  $4 attempts int[]   the retry count each outcome's job carried
WITH win AS MATERIALIZED (
  SELECT fleet_log_window_start() AS lo -- read once, as an initplan: the partitions below it are pruned
), up AS (
  UPDATE messages m SET status = u.status,
    last_error = CASE WHEN u.status IN ('FAILED', 'DEAD') THEN u.error ELSE m.last_error END,
    retry_count = GREATEST(m.retry_count, u.attempt), updated_at = now()
  FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) AS u(id, status, error, attempt)
  WHERE m.id = u.id AND m.seq >= (SELECT lo FROM win)
    AND m.status NOT IN ('COMPLETED', 'DEAD') AND u.attempt >= m.retry_count
    AND (u.attempt > m.retry_count
      OR CASE u.status WHEN 'PENDING' THEN 0 WHEN 'PROCESSING' THEN 1 WHEN 'FAILED' THEN 2 ELSE 3 END
         >= CASE m.status WHEN 'PENDING' THEN 0 WHEN 'PROCESSING' THEN 1 WHEN 'FAILED' THEN 2 ELSE 3 END)
  RETURNING m.seq, m.id, m.status, m.updated_at
), closed AS (
  -- seq = ANY(ARRAY(...)): an index scan of messages_open whatever the estimates (a plan cached while the
  -- newest partition was empty joined by hashing all of messages_open: 56 µs per outcome, measured).
  DELETE FROM messages_open o WHERE o.seq = ANY(ARRAY(SELECT seq FROM up WHERE status = 'COMPLETED'))
), mirrored AS (
  UPDATE messages_open o SET status = up.status, updated_at = up.updated_at
  FROM up WHERE o.seq = ANY(ARRAY(SELECT seq FROM up WHERE status <> 'COMPLETED')) AND o.seq = up.seq
)
SELECT (SELECT count(*)::int FROM up) AS n,
  ARRAY(SELECT x.id FROM unnest($1::text[]) AS x(id) WHERE NOT EXISTS (SELECT 1 FROM up WHERE up.id = x.id)) AS missing
