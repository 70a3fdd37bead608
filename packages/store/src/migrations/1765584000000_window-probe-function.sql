-- Up Migration
-- fleet_log_probe_from(id, lo, cur_lo, prev_max): the first seq at which the duplicate window looks an id
-- up, given fleet_log_window()'s values: the current partition's first seq for an id above the previous
-- partition's greatest, the window's first seq for any other (the window-skips-previous migration). One
-- home for that rule: the ingest (fleet_persist_batch) and the worker outcomes (sql/apply_statuses.sql)
-- call it instead of each spelling it out.
--
-- A single-expression SQL function, not STRICT: Postgres inlines it into the calling statement, so the
-- plan is the one the CASE written in place gave (run-time pruning of the previous partition per id,
-- checked by packages/store/test/window-previous-probe.test.ts).
CREATE FUNCTION fleet_log_probe_from(id text, lo bigint, cur_lo bigint, prev_max text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN id COLLATE "C" > prev_max THEN cur_lo ELSE lo END
$$;

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
  WHERE NOT EXISTS (SELECT 1 FROM messages x WHERE x.id = u.id
                    AND x.seq >= fleet_log_probe_from(u.id, (SELECT lo FROM win), (SELECT cur_lo FROM win),
                                                      (SELECT prev_max FROM win)))
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

DROP FUNCTION fleet_log_probe_from(text, bigint, bigint, text);
