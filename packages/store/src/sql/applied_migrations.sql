-- applied_migrations: the migrations applied and when, in the order applied (node-pg-migrate's table,
-- Table.migrations in schema.ts: keep the name in step). No parameters.
SELECT name, run_on FROM fleet_migrations ORDER BY id
