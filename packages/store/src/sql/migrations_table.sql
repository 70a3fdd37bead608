-- migrations_table: whether node-pg-migrate's bookkeeping table exists (t is NULL when it does not).
--  $1 table name text (Table.migrations)
SELECT to_regclass($1) AS t
