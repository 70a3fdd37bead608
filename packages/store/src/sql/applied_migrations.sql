-- applied_migrations: names of the migrations applied (node-pg-migrate's table, Table.migrations in
-- schema.ts: keep the name in step). No parameters.
SELECT name FROM fleet_migrations
