-- log_ensure: creates the partitions of `messages` that follow the current one until $1 of them exist
-- (fleet_log_ensure, the partitioned-log migration). Returns how many it created.
--  $1 ahead int
SELECT fleet_log_ensure($1) AS made
