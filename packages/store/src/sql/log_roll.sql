-- log_roll: new rows go to the next partition when the current one was opened $1 s ago or more
-- (fleet_log_roll: waits for the ingest transactions in flight; run under a lock_timeout). Returns the
-- new current partition's number, NULL when it is not time yet.
--  $1 interval_s float8
SELECT fleet_log_roll($1) AS rolled
