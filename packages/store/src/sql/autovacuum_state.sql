-- autovacuum_state: whether autovacuum can run for the message log's tables: the two server settings it
-- needs (autovacuum and track_counts, both on), and which partitions of `messages` and whether
-- `messages_open` turn it off with the reloption autovacuum_enabled (false as Postgres reads it: the
-- option keeps its spelling, e.g. off or 0). to_regclass: a schema not yet migrated reports the settings
-- and no table. No parameters.
SELECT current_setting('autovacuum')::bool AS autovacuum,
       current_setting('track_counts')::bool AS track_counts,
       ARRAY(
         SELECT t.relid::text
         FROM (SELECT relid FROM pg_partition_tree(to_regclass('messages'))
               UNION ALL SELECT to_regclass('messages_open')) t
         JOIN pg_class c ON c.oid = t.relid
         CROSS JOIN LATERAL pg_options_to_table(c.reloptions) o
         WHERE o.option_name = 'autovacuum_enabled' AND NOT o.option_value::bool
         ORDER BY 1
       ) AS tables_off
