-- count_dead: the number of DEAD rows, counted up to a bound (an index-only walk of messages_open's
-- (status, updated_at) index, stopped after $1 rows: a caller asking for bound + 1 learns "more than bound").
--  $1 most rows counted int
SELECT count(*)::int AS n FROM (SELECT 1 FROM messages_open WHERE status = 'DEAD' LIMIT $1) d
