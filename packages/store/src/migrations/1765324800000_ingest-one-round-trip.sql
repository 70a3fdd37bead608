-- Up Migration
-- The ingest transaction in one round trip: fleet_persist_batch takes the log lock shared, then runs the
-- ingest statement (sql/persist_batch.sql calls it as a statement of its own, in autocommit).
--
-- Why: the ingest ran as BEGIN + the log lock, the statement, then COMMIT: three round trips, with the
-- consumer_offsets row of its stream locked from the statement until the COMMIT arrived. Every ingest
-- transaction of the fleet upserts that row, so each one waited for the previous one's COMMIT round trip
-- (and the persister's event loop before it sent it).
--
-- Why a function: the lock must be held before the INSERT's snapshot is taken (the partitioned-log
-- migration: fleet_log_enter), and a statement takes its snapshot before anything in it runs. A PL/pgSQL
-- function's statements each take their own snapshot (READ COMMITTED), after the PERFORM. The lock is a
-- transaction lock: the statement's implicit transaction holds it to its commit, as the explicit one did.
CREATE FUNCTION fleet_persist_batch(text[], text[], text[], text[], smallint[], float8[], int[], int[], bytea,
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

-- Down Migration
DROP FUNCTION fleet_persist_batch(text[], text[], text[], text[], smallint[], float8[], int[], int[], bytea,
                                  text[], text[], text[], text[], text[], text[]);
