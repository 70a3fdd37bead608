-- log_attach: attaches the partition after the current one when the current one was opened $1 s ago or
-- more, i.e. when log_roll.sql is due (fleet_log_attach: the ahead-partitions-detached migration). Its own
-- transaction, committed before the roll moves the sequence (setval is not transactional). Returns the
-- partition attached, NULL when none was (not due, or attached already).
--  $1 interval_s float8
SELECT fleet_log_attach($1) AS attached
