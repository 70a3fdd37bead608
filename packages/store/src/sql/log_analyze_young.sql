-- log_analyze_young: ANALYZEs the partition new rows go to when it holds 4 MB or more while its statistics
-- say it holds less (pg_class.relpages: 0 before the first ANALYZE, or taken while it was empty, e.g. by a
-- database-wide ANALYZE of the partitions created ahead). The persister runs it every second (docs/
-- architecture.md "The message log"); it does nothing once the statistics are of 4 MB or more.
-- Why: the ingest and status statements are prepared once per connection, and after five runs Postgres
-- keeps a generic plan. One made while the partition was nearly empty in its statistics joins by hashing a
-- sequential scan of the whole partition instead of probing its id index, and keeps doing so until the
-- partition is analyzed: autovacuum's first ANALYZE comes up to a minute later, when each statement reads
-- the hundreds of thousands of rows a minute brings (docs/benchmarks.md "Plans made on a young
-- partition"). ANALYZE updates pg_class, which makes every session plan those statements again.
-- SKIP_LOCKED: when autovacuum or another persister is analyzing it, nothing waits. Only a role that may
-- analyze it (its owner's: the one that ran the migrations) does; for any other autovacuum remains. No
-- parameters.
DO $$
DECLARE
  part text := (SELECT 'messages_p' || n FROM message_partitions
                WHERE opened_at IS NOT NULL ORDER BY n DESC LIMIT 1);
BEGIN
  IF (SELECT relpages::bigint * current_setting('block_size')::int < 4 * 1024 * 1024
             AND pg_relation_size(oid) >= 4 * 1024 * 1024 AND pg_has_role(relowner, 'USAGE')
      FROM pg_class WHERE oid = to_regclass(part)) THEN
    EXECUTE format('ANALYZE (SKIP_LOCKED) %I', part);
  END IF;
END $$
