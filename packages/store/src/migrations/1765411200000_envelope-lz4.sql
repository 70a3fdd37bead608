-- Up Migration
-- Envelopes compressed with lz4, not pglz: `messages.envelope` of every partition (attached, and those
-- waiting detached ahead), and fleet_log_ensure makes new partitions with the parent's setting (LIKE ...
-- INCLUDING COMPRESSION).
--
-- Why: a row whose envelope takes it past Postgres' TOAST threshold (~2 KB) has the envelope compressed
-- before it is stored, by default with pglz, which on payloads that do not compress (encrypted, already
-- compressed, random) works through the whole value before it gives up. With 8 KB payloads of random bytes
-- `npm run bench -- e2e` spent a third of Postgres' CPU in pglz_compress (perf); with lz4 Postgres' CPU per
-- message fell from 78-79 to 56-60 µs and the fleet's msg/s rose 9-18% (docs/benchmarks.md, "Payloads that
-- do not compress"). lz4 also compresses the payloads that do compress (JSON) several times faster than pglz, to a
-- little less. Rows stored before keep their pglz values (readable as before); only new values use lz4.
--
-- A server built without lz4 (default_toast_compression offers no 'lz4') keeps pglz; the migration says so
-- in a NOTICE and changes nothing. SET COMPRESSION changes only the catalog; on the parent it takes an
-- ACCESS EXCLUSIVE lock for a moment.
DO $$
DECLARE
  p record;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
    RAISE NOTICE 'this PostgreSQL server was built without lz4: message envelopes stay compressed with pglz';
    RETURN;
  END IF;
  -- The parent (what INCLUDING COMPRESSION copies), then every partition once: the loop reaches the ones
  -- waiting detached ahead, which an ALTER recursing from the parent would not.
  ALTER TABLE ONLY messages ALTER COLUMN envelope SET COMPRESSION lz4;
  FOR p IN SELECT n FROM message_partitions WHERE to_regclass('messages_p' || n) IS NOT NULL LOOP
    EXECUTE format('ALTER TABLE %I ALTER COLUMN envelope SET COMPRESSION lz4', 'messages_p' || p.n);
  END LOOP;
END $$;

-- The ahead-partitions-detached migration's function, its LIKE now INCLUDING COMPRESSION.
CREATE OR REPLACE FUNCTION fleet_log_ensure(ahead integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  lo bigint := (SELECT hi FROM message_partitions WHERE opened_at IS NOT NULL ORDER BY n DESC LIMIT 1);
  k integer;
  made integer := 0;
BEGIN
  FOR i IN 1 .. ahead LOOP
    k := (lo >> 36)::integer;
    IF NOT EXISTS (SELECT 1 FROM message_partitions WHERE n = k) THEN
      -- fillfactor 50 and early autovacuum: the hot-status-updates migration's settings, per partition.
      EXECUTE format('CREATE TABLE %I (LIKE messages INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS '
        'INCLUDING COMPRESSION) '
        'WITH (fillfactor = 50, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02)',
        'messages_p' || k);
      EXECUTE format('CREATE UNIQUE INDEX %I ON %I (id)', 'messages_p' || k || '_id_key', 'messages_p' || k);
      INSERT INTO message_partitions (n, lo, hi) VALUES (k, lo, lo + (1::bigint << 36));
      made := made + 1;
    END IF;
    lo := lo + (1::bigint << 36);
  END LOOP;
  RETURN made;
END $$;

-- Down Migration
-- Back to the server's default_toast_compression (pglz unless set). fleet_log_ensure keeps INCLUDING
-- COMPRESSION: copying the parent's default is what the LIKE without it did.
DO $$
DECLARE
  p record;
BEGIN
  ALTER TABLE ONLY messages ALTER COLUMN envelope SET COMPRESSION DEFAULT;
  FOR p IN SELECT n FROM message_partitions WHERE to_regclass('messages_p' || n) IS NOT NULL LOOP
    EXECUTE format('ALTER TABLE %I ALTER COLUMN envelope SET COMPRESSION DEFAULT', 'messages_p' || p.n);
  END LOOP;
END $$;
