-- log_retire: drops the partitions of `messages` closed more than $1 s ago, after carrying their rows
-- that are not COMPLETED into the current partition (fleet_log_retire). One row per partition dropped.
--  $1 max_age_s float8
SELECT part, rows_dropped, carried FROM fleet_log_retire($1)
