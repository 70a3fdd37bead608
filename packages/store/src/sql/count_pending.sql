-- count_pending: the number of PENDING rows, counted up to a bound in each of its two parts, so a backlog
-- of millions costs a bounded walk, not a COUNT over all of them (as count_dead): those of the narrow
-- messages_open table (an index-only walk of its (status, updated_at) index), plus those of the batches
-- not mirrored there yet that still have rows open (messages_unmirrored, read by seq range; a row of such a
-- batch already in messages_open, made FAILED and retried meanwhile, is counted once). The caller caps the
-- sum at the bound: a result equal to it means "at least that many".
--  $1 most rows counted in each part int
SELECT (SELECT count(*) FROM (SELECT 1 FROM messages_open WHERE status = 'PENDING' LIMIT $1) o)::int
     + (SELECT count(*) FROM (
          SELECT 1 FROM messages_unmirrored u
          CROSS JOIN LATERAL (
            SELECT 1 FROM messages m
            WHERE m.seq BETWEEN u.lo AND u.hi AND m.status = 'PENDING'
              AND NOT EXISTS (SELECT 1 FROM messages_open o WHERE o.seq = m.seq)
            OFFSET 0 -- a range scan per batch (mirror_open.sql)
          ) p
          WHERE u.open > 0
          LIMIT $1) b)::int AS n
