-- Up Migration
-- The partitions created ahead of the current one wait detached; the maintenance attaches the next one
-- when the roll is due, in its own transaction just before the roll.
--
-- Why: every lookup by id (the ingest's duplicate check, worker outcomes, sweeps by id) is bounded below
-- only (from the duplicate window's first seq), so it probed each attached partition ahead of the current
-- one too: empty indexes, but an index scan each per message. `npm run bench -- pg-cost` put the two
-- partitions ahead at 0.9-2.6 µs of Postgres CPU per message persisted and completed, 5-11% of the hot
-- path (docs/benchmarks.md, "pg-cost"). An upper bound on those lookups would prune them as well, but with
-- two bounds the planner takes the range as selective and reads the whole previous partition instead of
-- its id index (a hash anti join: 25 and 65 µs per message instead of 17, measured).
--
-- fleet_log_ensure makes each partition ahead as a plain table shaped like `messages` (columns, defaults,
-- the generated trace_id, the CHECK), with its storage settings and its unique id index. fleet_log_attach
-- (new, a maintenance step of its own) attaches the next one once the roll is due: ATTACH builds its seq
-- primary key and (topic, seq) index (an empty table: instant) and checks its range (an empty scan),
-- under the parent's SHARE UPDATE EXCLUSIVE lock, which writers and readers do not wait for. The attach
-- commits before the roll moves the sequence, because setval is not transactional: were both one
-- transaction and it failed after setval, rows would be routed to a partition that is not attached, an
-- error the persister takes for bad data. fleet_log_roll now waits for the next partition to be attached
-- (NULL: not yet) and never moves the sequence back (a roll whose transaction failed after its setval
-- left it in the next partition; rolling again must not hand out those seqs twice).
--
-- This migration detaches the partitions created ahead (empty: rows only enter a partition once the roll
-- moved the sequence into it). DETACH takes the parent's ACCESS EXCLUSIVE lock for a moment.

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
      EXECUTE format('CREATE TABLE %I (LIKE messages INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS) '
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

CREATE FUNCTION fleet_log_attach(interval_s float8) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  cur message_partitions;
  nxt message_partitions;
BEGIN
  SELECT * INTO cur FROM message_partitions WHERE opened_at IS NOT NULL ORDER BY n DESC LIMIT 1;
  IF cur.opened_at > clock_timestamp() - interval_s * interval '1 second' THEN
    RETURN NULL;
  END IF;
  SELECT * INTO nxt FROM message_partitions WHERE lo = cur.hi;
  IF nxt.n IS NULL OR EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass('messages_p' || nxt.n)) THEN
    RETURN NULL;
  END IF;
  EXECUTE format('ALTER TABLE messages ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',
    'messages_p' || nxt.n, nxt.lo, nxt.hi);
  RETURN nxt.n;
END $$;

CREATE OR REPLACE FUNCTION fleet_log_roll(interval_s float8) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  cur message_partitions;
  nxt integer;
  seq_name text := pg_get_serial_sequence('messages', 'seq');
BEGIN
  SELECT * INTO cur FROM message_partitions WHERE opened_at IS NOT NULL ORDER BY n DESC LIMIT 1;
  IF cur.opened_at > clock_timestamp() - interval_s * interval '1 second' THEN
    RETURN NULL;
  END IF;
  SELECT n INTO nxt FROM message_partitions WHERE lo = cur.hi;
  IF nxt IS NULL THEN
    RAISE EXCEPTION 'no partition after messages_p% (fleet_log_ensure first)', cur.n;
  END IF;
  -- Not attached yet (fleet_log_attach runs first; it found the roll not due a moment ago): next run.
  IF NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass('messages_p' || nxt)) THEN
    RETURN NULL;
  END IF;
  PERFORM pg_advisory_xact_lock(fleet_log_lock_key());
  IF coalesce(pg_sequence_last_value(seq_name::regclass), cur.hi - 1) < cur.hi THEN
    PERFORM setval(seq_name, cur.hi, false);
  END IF;
  UPDATE message_partitions SET closed_at = clock_timestamp() WHERE n = cur.n;
  UPDATE message_partitions SET opened_at = clock_timestamp() WHERE n = nxt;
  RETURN nxt;
END $$;

DO $$
DECLARE
  p record;
BEGIN
  FOR p IN SELECT n FROM message_partitions WHERE opened_at IS NULL ORDER BY n LOOP
    EXECUTE format('ALTER TABLE messages DETACH PARTITION %I', 'messages_p' || p.n);
  END LOOP;
END $$;

-- Down Migration
-- The partitions ahead attached again, and the partitioned-log migration's ensure and roll.
DROP FUNCTION fleet_log_attach(float8);
DO $$
DECLARE
  p record;
BEGIN
  FOR p IN SELECT n, lo, hi FROM message_partitions WHERE opened_at IS NULL ORDER BY n LOOP
    EXECUTE format('ALTER TABLE messages ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',
      'messages_p' || p.n, p.lo, p.hi);
  END LOOP;
END $$;

CREATE OR REPLACE FUNCTION fleet_log_ensure(ahead integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  lo bigint := (SELECT hi FROM message_partitions WHERE opened_at IS NOT NULL ORDER BY n DESC LIMIT 1);
  k integer;
  made integer := 0;
BEGIN
  FOR i IN 1 .. ahead LOOP
    k := (lo >> 36)::integer;
    IF NOT EXISTS (SELECT 1 FROM message_partitions WHERE n = k) THEN
      EXECUTE format('CREATE TABLE %I PARTITION OF messages FOR VALUES FROM (%s) TO (%s) '
        'WITH (fillfactor = 50, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02)',
        'messages_p' || k, lo, lo + (1::bigint << 36));
      EXECUTE format('CREATE UNIQUE INDEX %I ON %I (id)', 'messages_p' || k || '_id_key', 'messages_p' || k);
      INSERT INTO message_partitions (n, lo, hi) VALUES (k, lo, lo + (1::bigint << 36));
      made := made + 1;
    END IF;
    lo := lo + (1::bigint << 36);
  END LOOP;
  RETURN made;
END $$;

CREATE OR REPLACE FUNCTION fleet_log_roll(interval_s float8) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  cur message_partitions;
  nxt integer;
BEGIN
  SELECT * INTO cur FROM message_partitions WHERE opened_at IS NOT NULL ORDER BY n DESC LIMIT 1;
  IF cur.opened_at > clock_timestamp() - interval_s * interval '1 second' THEN
    RETURN NULL;
  END IF;
  SELECT n INTO nxt FROM message_partitions WHERE lo = cur.hi;
  IF nxt IS NULL THEN
    RAISE EXCEPTION 'no partition after messages_p% (fleet_log_ensure first)', cur.n;
  END IF;
  PERFORM pg_advisory_xact_lock(fleet_log_lock_key());
  PERFORM setval(pg_get_serial_sequence('messages', 'seq'), cur.hi, false);
  UPDATE message_partitions SET closed_at = clock_timestamp() WHERE n = cur.n;
  UPDATE message_partitions SET opened_at = clock_timestamp() WHERE n = nxt;
  RETURN nxt;
END $$;
