-- advisory_unlock: releases a session advisory lock taken by try_advisory_lock.sql.
--  $1 key bigint
SELECT pg_advisory_unlock($1)
