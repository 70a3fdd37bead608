-- Up Migration
-- The duplicate window's probe skips the previous partition for an id above every id stored there: a
-- partition records its greatest id (`message_partitions.max_id`) when it closes, and the ingest's
-- duplicate check (fleet_persist_batch) and the worker outcomes (sql/apply_statuses.sql) probe the previous
-- partition's id index only for ids at or below it. Message ids in the UUIDv7 layout (the reference client's
-- and the gateway's) grow with time, so a new message's id is above the previous partition's greatest and
-- costs one index probe instead of two. Any other id is probed in both, as before: the window is exactly
-- what it was (docs/protocol.md section 10), since nothing is inserted into a partition once it is closed
-- (fleet_log_roll waits for the ingests in flight; rows carried by retention go to the current partition).
--
-- Why: once the log has rolled (a running fleet, after its first partition interval) each probe of the
-- previous partition's id index read ~4 buffers per id, in both statements: `npm run bench -- pg-scale` at
-- 14M rows, 55 µs of Postgres CPU per message against 44 on an empty log, and 50.6 against 46.2 with this
-- change (docs/benchmarks.md, "The previous partition's probe").
--
-- fleet_log_window(): the window's first seq (`lo`, as fleet_log_window_start()), the current partition's
-- first seq (`cur_lo`) and the previous partition's greatest id (`prev_max`, NULL when there is none or it
-- is not known: then every id is probed in both). Partitions closed before this migration get theirs now
-- (an index scan backwards each).
ALTER TABLE message_partitions ADD COLUMN max_id text COLLATE "C";

DO $$
DECLARE
  p record;
  m text;
BEGIN
  FOR p IN SELECT n FROM message_partitions
           WHERE closed_at IS NOT NULL AND to_regclass('messages_p' || n) IS NOT NULL LOOP
    EXECUTE format('SELECT max(id) FROM %I', 'messages_p' || p.n) INTO m;
    UPDATE message_partitions SET max_id = m WHERE n = p.n;
  END LOOP;
END $$;

CREATE FUNCTION fleet_log_window(OUT lo bigint, OUT cur_lo bigint, OUT prev_max text)
LANGUAGE sql STABLE AS $$
  WITH w AS (SELECT n, coalesce(lo, -9223372036854775808) AS lo, max_id FROM message_partitions
             WHERE opened_at IS NOT NULL ORDER BY n DESC LIMIT 2)
  SELECT coalesce(min(lo), -9223372036854775808), coalesce(max(lo), -9223372036854775808),
         (SELECT max_id FROM w WHERE n < (SELECT max(n) FROM w))
  FROM w
$$;

CREATE OR REPLACE FUNCTION fleet_log_roll(interval_s float8) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  cur message_partitions;
  nxt integer;
  seq_name text := pg_get_serial_sequence('messages', 'seq');
  top text;
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
  -- Read after the lock: every ingest into the closing partition has committed, and none comes later.
  EXECUTE format('SELECT max(id) FROM %I', 'messages_p' || cur.n) INTO top;
  UPDATE message_partitions SET closed_at = clock_timestamp(), max_id = top WHERE n = cur.n;
  UPDATE message_partitions SET opened_at = clock_timestamp() WHERE n = nxt;
  RETURN nxt;
END $$;

CREATE OR REPLACE FUNCTION fleet_persist_batch(text[], text[], text[], text[], smallint[], float8[], int[], int[], bytea,
                                    text[], text[], text[], text[], text[], text[])
RETURNS SETOF text LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM fleet_log_enter();
  RETURN QUERY
WITH win AS MATERIALIZED (
  SELECT * FROM fleet_log_window() -- read once, as initplans: the partitions below them are pruned
), ins AS (
  INSERT INTO messages (id, stream_id, topic, type, priority, sent_at, envelope, headers, traceparent, reply_to,
                        batch)
  SELECT u.id, u.stream_id, u.topic, u.type, u.priority, timestamptz 'epoch' + u.ts * interval '1 millisecond',
         substring($9::bytea FROM u.env_at FOR u.env_len), u.headers::jsonb, u.traceparent, u.reply_to,
         txid_current()
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::smallint[], $6::float8[], $7::int[], $8::int[],
              $10::text[], $11::text[], $12::text[])
       AS u(id, stream_id, topic, type, priority, ts, env_at, env_len, headers, traceparent, reply_to)
  -- An id above the previous partition's greatest is not there: only the current partition is probed for it.
  WHERE NOT EXISTS (SELECT 1 FROM messages x WHERE x.id = u.id
                    AND x.seq >= CASE WHEN u.id COLLATE "C" > (SELECT prev_max FROM win) THEN (SELECT cur_lo FROM win)
                                      ELSE (SELECT lo FROM win) END)
  RETURNING seq, id, updated_at
), opened AS (
  -- The batch, for the sweep to mirror its rows still open into messages_open later (open-rows-mirrored-late
  -- migration). Keyed by the transaction, as each row's `batch`.
  INSERT INTO messages_unmirrored (batch, lo, hi, open)
  SELECT txid_current(), min(seq), max(seq), count(*) FROM ins HAVING count(*) > 0
  ON CONFLICT (batch) DO UPDATE SET lo = least(messages_unmirrored.lo, EXCLUDED.lo),
    hi = greatest(messages_unmirrored.hi, EXCLUDED.hi), open = messages_unmirrored.open + EXCLUDED.open
), off AS (
  INSERT INTO consumer_offsets (consumer_group, topic, "offset", updated_at)
  SELECT g, t, o, now() FROM unnest($13::text[], $14::text[], $15::text[]) AS x(g, t, o)
  ON CONFLICT (consumer_group, topic) DO UPDATE SET "offset" = EXCLUDED."offset", updated_at = EXCLUDED.updated_at
  WHERE consumer_offsets."offset" !~ '^\d+-\d+$' OR EXCLUDED."offset" !~ '^\d+-\d+$'
    OR (split_part(EXCLUDED."offset", '-', 1)::numeric, split_part(EXCLUDED."offset", '-', 2)::numeric)
       >= (split_part(consumer_offsets."offset", '-', 1)::numeric, split_part(consumer_offsets."offset", '-', 2)::numeric)
)
SELECT id FROM ins;
END
$fn$;

-- Down Migration
CREATE OR REPLACE FUNCTION fleet_persist_batch(text[], text[], text[], text[], smallint[], float8[], int[], int[], bytea,
                                    text[], text[], text[], text[], text[], text[])
RETURNS SETOF text LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM fleet_log_enter();
  RETURN QUERY
WITH win AS MATERIALIZED (
  SELECT fleet_log_window_start() AS lo -- read once, as an initplan: the partitions below it are pruned
), ins AS (
  INSERT INTO messages (id, stream_id, topic, type, priority, sent_at, envelope, headers, traceparent, reply_to,
                        batch)
  SELECT u.id, u.stream_id, u.topic, u.type, u.priority, timestamptz 'epoch' + u.ts * interval '1 millisecond',
         substring($9::bytea FROM u.env_at FOR u.env_len), u.headers::jsonb, u.traceparent, u.reply_to,
         txid_current()
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::smallint[], $6::float8[], $7::int[], $8::int[],
              $10::text[], $11::text[], $12::text[])
       AS u(id, stream_id, topic, type, priority, ts, env_at, env_len, headers, traceparent, reply_to)
  WHERE NOT EXISTS (SELECT 1 FROM messages x WHERE x.id = u.id AND x.seq >= (SELECT lo FROM win))
  RETURNING seq, id, updated_at
), opened AS (
  -- The batch, for the sweep to mirror its rows still open into messages_open later (open-rows-mirrored-late
  -- migration). Keyed by the transaction, as each row's `batch`.
  INSERT INTO messages_unmirrored (batch, lo, hi, open)
  SELECT txid_current(), min(seq), max(seq), count(*) FROM ins HAVING count(*) > 0
  ON CONFLICT (batch) DO UPDATE SET lo = least(messages_unmirrored.lo, EXCLUDED.lo),
    hi = greatest(messages_unmirrored.hi, EXCLUDED.hi), open = messages_unmirrored.open + EXCLUDED.open
), off AS (
  INSERT INTO consumer_offsets (consumer_group, topic, "offset", updated_at)
  SELECT g, t, o, now() FROM unnest($13::text[], $14::text[], $15::text[]) AS x(g, t, o)
  ON CONFLICT (consumer_group, topic) DO UPDATE SET "offset" = EXCLUDED."offset", updated_at = EXCLUDED.updated_at
  WHERE consumer_offsets."offset" !~ '^\d+-\d+$' OR EXCLUDED."offset" !~ '^\d+-\d+$'
    OR (split_part(EXCLUDED."offset", '-', 1)::numeric, split_part(EXCLUDED."offset", '-', 2)::numeric)
       >= (split_part(consumer_offsets."offset", '-', 1)::numeric, split_part(consumer_offsets."offset", '-', 2)::numeric)
)
SELECT id FROM ins;
END
$fn$;

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

DROP FUNCTION fleet_log_window();
ALTER TABLE message_partitions DROP COLUMN max_id;
