-- count_pending: the number of PENDING rows: those of the narrow messages_open table, plus those of the
-- batches not mirrored there yet that still have rows open (messages_unmirrored, read by seq range; a row
-- of such a batch already in messages_open, made FAILED and retried meanwhile, is counted once). No
-- parameters.
SELECT (SELECT count(*) FROM messages_open WHERE status = 'PENDING')::int
     + (SELECT count(*) FROM messages_unmirrored u
        CROSS JOIN LATERAL (
          SELECT 1 FROM messages m
          WHERE m.seq BETWEEN u.lo AND u.hi AND m.status = 'PENDING'
            AND NOT EXISTS (SELECT 1 FROM messages_open o WHERE o.seq = m.seq)
          OFFSET 0 -- a range scan per batch (mirror_open.sql)
        ) p
        WHERE u.open > 0)::int AS n
