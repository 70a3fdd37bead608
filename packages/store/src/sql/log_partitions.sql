-- log_partitions: the partitions of `messages`, oldest first, with their seq range, when each was opened
-- and closed (NULL: not yet) and its estimated row count (pg_class.reltuples: -1 before the first
-- ANALYZE). No parameters.
SELECT p.n, p.lo, p.hi, p.opened_at, p.closed_at, c.reltuples::float8 AS est_rows
FROM message_partitions p LEFT JOIN pg_class c ON c.oid = to_regclass('messages_p' || p.n)
ORDER BY p.n
