-- set_lock_timeout: how long the statements of this transaction wait for a lock ($1 ms) before they
-- fail: partition DDL and the roll must not stall the writers behind them for long.
--  $1 ms text
SELECT set_config('lock_timeout', $1, true)
