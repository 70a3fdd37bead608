-- mark_failed: PENDING / PROCESSING -> FAILED with an error, for the given ids (sorted by the caller);
-- messages_open follows. Returns the number of rows changed.
--  $1 ids   text[]
--  $2 error text
WITH up AS (
  UPDATE messages m SET status = 'FAILED', last_error = $2, updated_at = now()
  FROM unnest($1::text[]) AS u(id)
  WHERE m.id = u.id AND m.status IN ('PENDING', 'PROCESSING')
  RETURNING m.seq, m.status, m.updated_at
), mirrored AS (
  -- An upsert: a recent row is not in messages_open until the sweep mirrors its batch.
  INSERT INTO messages_open (seq, status, updated_at) SELECT seq, status, updated_at FROM up
  ON CONFLICT (seq) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at
)
SELECT count(*)::int AS n FROM up
