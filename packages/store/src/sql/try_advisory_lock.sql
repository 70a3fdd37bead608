-- try_advisory_lock: takes a session advisory lock if free (AdvisoryLock in schema.ts); ok = got it.
--  $1 key bigint
SELECT pg_try_advisory_lock($1) AS ok
