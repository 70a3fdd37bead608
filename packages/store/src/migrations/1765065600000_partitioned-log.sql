-- Up Migration
-- The message log, partitioned by time (docs/architecture.md "The message log"; issue 18).
--
-- `messages` becomes a table partitioned by RANGE (seq). Partition messages_p<n> holds seq n * 2^36 up to
-- (n + 1) * 2^36; only the first (messages_p0, the table as it was) starts at MINVALUE. The partitions are
-- cut by time: the persister's maintenance (fleet_log_roll) moves the seq sequence to the next
-- partition's first value every retention.partition_interval_s, so each partition holds one interval of
-- messages and message_partitions records when it was opened and closed. Ranging on seq rather than on a
-- timestamp keeps `seq` the primary key and every lookup by seq (messages_open, replay) pruned to one
-- partition. Retention drops whole partitions (fleet_log_retire): no per-row DELETE of COMPLETED rows.
--
-- Idempotency. A unique index of a partitioned table must contain the partition key, so `id` is unique
-- per partition (an index each partition carries) and the ingest statement skips ids already in the
-- previous or the current partition: the duplicate window is the current and the previous partition,
-- i.e. at least one partition interval. The race between two partitions (one transaction inserting an
-- id into the old partition while another inserts it into the new one) is closed by a lock: ingest
-- transactions hold fleet_log_lock_key() shared (fleet_log_enter) from before their INSERT, and the roll
-- takes it exclusively before it moves the sequence, so every ingest in the new partition starts after
-- every ingest in the old one has committed, and sees its rows.
--
-- Migrating an existing table: the table is renamed messages_p0 and attached as the first partition (a
-- CHECK of its seq range is validated first: one scan, under this migration's lock on the table); its
-- UNIQUE (id) becomes that partition's id index. The created_at index is dropped (retention no longer
-- walks rows). Stop the persisters for the migration window on a large table (docs/operations.md).

DO $$
DECLARE
  -- The last seq handed out (the identity sequence can be ahead of the rows: rolled-back inserts).
  last_seq bigint := greatest(coalesce((SELECT max(seq) FROM messages), 0),
                              coalesce(pg_sequence_last_value(pg_get_serial_sequence('messages', 'seq')), 0));
  -- The first value past messages_p0: the 2^36 boundary above every seq used so far.
  hi bigint := ((last_seq >> 36) + 1) << 36;
BEGIN
  ALTER TABLE messages RENAME TO messages_p0;
  ALTER INDEX messages_pkey RENAME TO messages_p0_pkey;
  ALTER TABLE messages_p0 RENAME CONSTRAINT messages_id_key TO messages_p0_id_key;
  ALTER INDEX messages_topic_seq_idx RENAME TO messages_p0_topic_seq_idx;
  DROP INDEX messages_created_at_idx;
  ALTER TABLE messages_p0 ALTER seq DROP IDENTITY;
  CREATE TABLE messages (
    seq          bigint GENERATED ALWAYS AS IDENTITY,
    id           text COLLATE "C" NOT NULL,
    stream_id    text COLLATE "C",
    topic        text COLLATE "C" NOT NULL,
    type         text NOT NULL,
    priority     smallint NOT NULL DEFAULT 0,
    sent_at      timestamptz NOT NULL,
    envelope     bytea NOT NULL,
    headers      jsonb NOT NULL DEFAULT '{}'::jsonb,
    traceparent  text,
    trace_id     text GENERATED ALWAYS AS (substr(traceparent, 4, 32)) STORED,
    reply_to     text,
    status       text NOT NULL DEFAULT 'PENDING',
    retry_count  integer NOT NULL DEFAULT 0,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT messages_status_check CHECK (status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'DEAD')),
    CONSTRAINT messages_pkey PRIMARY KEY (seq)
  ) PARTITION BY RANGE (seq);
  CREATE INDEX messages_topic_seq_idx ON messages (topic, seq);
  -- Validated here so ATTACH need not scan again.
  EXECUTE format('ALTER TABLE messages_p0 ADD CONSTRAINT messages_p0_range CHECK (seq < %s)', hi);
  EXECUTE format('ALTER TABLE messages ATTACH PARTITION messages_p0 FOR VALUES FROM (MINVALUE) TO (%s)', hi);
  ALTER TABLE messages_p0 DROP CONSTRAINT messages_p0_range;
  IF last_seq > 0 THEN
    PERFORM setval(pg_get_serial_sequence('messages', 'seq'), last_seq, true);
  END IF;
  CREATE TABLE message_partitions (
    n          integer PRIMARY KEY,
    lo         bigint,                  -- first seq (NULL: MINVALUE, messages_p0 only)
    hi         bigint NOT NULL,         -- first seq of the next partition
    opened_at  timestamptz,             -- became the partition new rows go to (NULL: created ahead)
    closed_at  timestamptz              -- the next one did
  );
  INSERT INTO message_partitions (n, lo, hi, opened_at) VALUES (0, NULL, hi, now());
END $$;

-- The lock between ingest transactions (shared) and the roll to a new partition (exclusive).
CREATE FUNCTION fleet_log_lock_key() RETURNS bigint LANGUAGE sql IMMUTABLE AS 'SELECT 7241865325800003::bigint';

-- First statement of every ingest transaction (packages/store/src/sql/ingest_begin.sql).
CREATE FUNCTION fleet_log_enter() RETURNS void LANGUAGE sql AS
  'SELECT pg_advisory_xact_lock_shared(fleet_log_lock_key())';

-- The first seq of the duplicate window: that of the previous partition (MINVALUE while the first one is
-- current). persist_batch.sql skips the ids stored from there on; apply_statuses.sql looks there first.
CREATE FUNCTION fleet_log_window_start() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT coalesce(min(coalesce(lo, -9223372036854775808)), -9223372036854775808) FROM (
    SELECT lo FROM message_partitions WHERE opened_at IS NOT NULL ORDER BY n DESC LIMIT 2
  ) p
$$;

-- Creates the partitions that follow the current one until `ahead` of them exist. Returns how many it made.
CREATE FUNCTION fleet_log_ensure(ahead integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  lo bigint := (SELECT hi FROM message_partitions WHERE opened_at IS NOT NULL ORDER BY n DESC LIMIT 1);
  k integer;
  made integer := 0;
BEGIN
  FOR i IN 1 .. ahead LOOP
    k := (lo >> 36)::integer;
    IF NOT EXISTS (SELECT 1 FROM message_partitions WHERE n = k) THEN
      -- fillfactor 50 and early autovacuum: the hot-status-updates migration's settings, per partition.
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

-- Moves new rows to the next partition when the current one was opened `interval_s` ago or more (the
-- next must exist: fleet_log_ensure). Waits for the ingest transactions in flight (the lock above; the
-- caller sets lock_timeout). Returns the new current partition's number, or NULL when it is not time yet.
CREATE FUNCTION fleet_log_roll(interval_s float8) RETURNS integer LANGUAGE plpgsql AS $$
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

-- Drops the partitions closed more than max_age_s ago. Their rows still open (in messages_open: PENDING,
-- PROCESSING, FAILED, DEAD) are carried into the current partition first, under a new seq (a copy of an id
-- already stored again there, a resend from past the duplicate window, is not carried: that row is the
-- live one). Returns one row per partition dropped: its number, its estimated row count (pg_class.reltuples:
-- counting would read the whole partition) and the rows carried.
CREATE FUNCTION fleet_log_retire(max_age_s float8)
RETURNS TABLE (part integer, rows_dropped bigint, carried bigint) LANGUAGE plpgsql AS $$
DECLARE
  p message_partitions;
  cur integer := (SELECT max(n) FROM message_partitions WHERE opened_at IS NOT NULL);
BEGIN
  FOR p IN SELECT * FROM message_partitions
           WHERE n < cur AND closed_at < clock_timestamp() - max_age_s * interval '1 second' ORDER BY n LOOP
    EXECUTE format($q$
      WITH moved AS (
        -- By seq through the indexes (a join let the planner read the whole partition: 10 µs per row of
        -- it, measured at 10M rows).
        DELETE FROM %1$I m
        WHERE m.seq = ANY(ARRAY(SELECT seq FROM messages_open WHERE seq >= %3$s AND seq < %2$s))
        RETURNING m.*
      ), ins AS (
        INSERT INTO messages (id, stream_id, topic, type, priority, sent_at, envelope, headers, traceparent,
                              reply_to, status, retry_count, last_error, created_at, updated_at)
        SELECT id, stream_id, topic, type, priority, sent_at, envelope, headers, traceparent,
               reply_to, status, retry_count, last_error, created_at, updated_at
        FROM moved WHERE NOT EXISTS (SELECT 1 FROM messages x WHERE x.id = moved.id AND x.seq >= %2$s)
        ORDER BY moved.seq
        RETURNING seq, id
      ), reseq AS (
        UPDATE messages_open o SET seq = ins.seq FROM moved JOIN ins USING (id) WHERE o.seq = moved.seq
      ), gone AS (
        DELETE FROM messages_open o USING moved
        WHERE o.seq = moved.seq AND NOT EXISTS (SELECT 1 FROM ins WHERE ins.id = moved.id)
      )
      SELECT count(*) FROM ins$q$, 'messages_p' || p.n, p.hi, coalesce(p.lo, -9223372036854775808)) INTO carried;
    part := p.n;
    rows_dropped := greatest((SELECT reltuples FROM pg_class WHERE oid = ('messages_p' || p.n)::regclass), 0)::bigint;
    EXECUTE format('DROP TABLE %I', 'messages_p' || p.n);
    DELETE FROM message_partitions WHERE n = p.n;
    RETURN NEXT;
  END LOOP;
END $$;

SELECT fleet_log_ensure(2);

-- Down Migration
-- Only while messages_p0 holds every row (refused otherwise): the empty partitions are dropped and
-- messages_p0 becomes the table again.
DROP FUNCTION fleet_log_retire(float8);
DROP FUNCTION fleet_log_window_start();
DROP FUNCTION fleet_log_roll(float8);
DROP FUNCTION fleet_log_ensure(integer);
DROP FUNCTION fleet_log_enter();
DROP FUNCTION fleet_log_lock_key();
DO $$
DECLARE
  p record;
BEGIN
  FOR p IN SELECT n FROM message_partitions WHERE n > 0 LOOP
    IF EXISTS (SELECT 1 FROM messages WHERE seq >= (SELECT lo FROM message_partitions WHERE n = p.n)
               AND seq < (SELECT hi FROM message_partitions WHERE n = p.n)) THEN
      RAISE EXCEPTION 'messages_p% holds rows: the partitioned log cannot be migrated down', p.n;
    END IF;
    EXECUTE format('DROP TABLE %I', 'messages_p' || p.n);
  END LOOP;
END $$;
ALTER TABLE messages DETACH PARTITION messages_p0;
DROP TABLE messages;
DROP TABLE message_partitions;
ALTER TABLE messages_p0 RENAME TO messages;
ALTER INDEX messages_p0_pkey RENAME TO messages_pkey;
ALTER TABLE messages RENAME CONSTRAINT messages_p0_id_key TO messages_id_key;
ALTER INDEX messages_p0_topic_seq_idx RENAME TO messages_topic_seq_idx;
ALTER TABLE messages ALTER seq ADD GENERATED ALWAYS AS IDENTITY;
SELECT setval(pg_get_serial_sequence('messages', 'seq'), coalesce((SELECT max(seq) FROM messages), 1));
CREATE INDEX messages_created_at_idx ON messages (created_at);
