-- apply_statuses: worker outcomes, one per id (collapsed and sorted by id by the caller), for the rows of
-- the two newest partitions of `messages` (where nearly every outcome's row is: each id probes those two
-- partitions only, and only the newest when it is above the previous one's greatest id); the ids it
-- changed no row for are returned in `missing`, for apply_statuses_anywhere.sql (rows of older
-- partitions; a stale outcome is looked up there too, and changes nothing). A row moves when it is not
-- terminal, the outcome is not from an older attempt than retry_count, and within the same attempt the
-- outcome does not rank lower (PENDING 0 < PROCESSING 1 < FAILED 2 < COMPLETED = DEAD 3: a late
-- PROCESSING never undoes FAILED). Postgres re-checks the WHERE on the newest version of a row another
-- transaction just changed. COMPLETED rows leave messages_open, the others are mirrored there. Returns
-- the number of rows changed and the ids left.
--  $1 ids      text[]
--  $2 statuses text[]
--  $3 errors   text[]  NULL where none; kept only for FAILED and DEAD
--  $4 attempts int[]   the retry count each outcome's job carried
WITH win AS MATERIALIZED (
  SELECT * FROM fleet_log_window() -- read once, as initplans: the partitions below them are pruned
), up AS (
  UPDATE messages m SET status = u.status,
    last_error = CASE WHEN u.status IN ('FAILED', 'DEAD') THEN u.error ELSE m.last_error END,
    retry_count = GREATEST(m.retry_count, u.attempt), updated_at = now()
  FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) AS u(id, status, error, attempt)
  -- An id above the previous partition's greatest is looked up in the current one only (the
  -- window-skips-previous migration; the rule is fleet_log_probe_from's, inlined).
  WHERE m.id = u.id
    AND m.seq >= fleet_log_probe_from(u.id, (SELECT lo FROM win), (SELECT cur_lo FROM win), (SELECT prev_max FROM win))
    AND m.status NOT IN ('COMPLETED', 'DEAD') AND u.attempt >= m.retry_count
    AND (u.attempt > m.retry_count
      OR CASE u.status WHEN 'PENDING' THEN 0 WHEN 'PROCESSING' THEN 1 WHEN 'FAILED' THEN 2 ELSE 3 END
         >= CASE m.status WHEN 'PENDING' THEN 0 WHEN 'PROCESSING' THEN 1 WHEN 'FAILED' THEN 2 ELSE 3 END)
  RETURNING m.seq, m.id, m.status, m.updated_at, m.retry_count, m.batch
), closed AS (
  -- seq = ANY(ARRAY(...)): an index scan of messages_open whatever the estimates (a plan cached while the
  -- newest partition was empty joined by hashing all of messages_open: 56 µs per outcome, measured).
  DELETE FROM messages_open o WHERE o.seq = ANY(ARRAY(SELECT seq FROM up WHERE status = 'COMPLETED'))
), mirrored AS (
  -- An upsert: a recent row is not in messages_open until the sweep mirrors its batch.
  INSERT INTO messages_open (seq, status, updated_at)
  SELECT seq, status, updated_at FROM up WHERE status <> 'COMPLETED'
  ON CONFLICT (seq) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at
), settled AS (
  -- Rows of a batch not mirrored yet that end at their first attempt (once per row: COMPLETED and DEAD are
  -- final, a replayed dead letter has retry_count 1) are counted off it; the sweep then skips the batch.
  UPDATE messages_unmirrored b SET open = b.open - e.n
  FROM (SELECT batch, count(*)::int AS n FROM up
        WHERE status IN ('COMPLETED', 'DEAD') AND retry_count = 0 AND batch IS NOT NULL
        GROUP BY batch ORDER BY batch) e -- sorted: a nested loop over it locks in batch order, as mirror_open does
  WHERE b.batch = e.batch
)
SELECT (SELECT count(*)::int FROM up) AS n,
  ARRAY(SELECT x.id FROM unnest($1::text[]) AS x(id) WHERE NOT EXISTS (SELECT 1 FROM up WHERE up.id = x.id)) AS missing
