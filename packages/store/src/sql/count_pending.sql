-- count_pending: the number of PENDING rows (read from the narrow messages_open table). No parameters.
SELECT count(*)::int AS n FROM messages_open WHERE status = 'PENDING'
