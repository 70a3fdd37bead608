-- ingest_begin: opens an ingest transaction (persist_batch.sql runs next, then COMMIT). Holding the log
-- lock shared from before the INSERT is what makes the duplicate window exact across a partition roll
-- (fleet_log_enter, fleet_log_roll: the partitioned-log migration). Two statements in one round trip.
-- No parameters.
BEGIN; SELECT fleet_log_enter()
