-- persist_batch: the ingest statement, idempotent, run inside an ingest transaction (ingest_begin.sql
-- first). Inserts the rows in the given (id) order except the ids already stored in the current or the
-- previous partition of `messages` (the duplicate window: the partitioned-log migration), records the batch
-- in messages_unmirrored and upserts the consumer offsets, all in one statement. A concurrent transaction
-- inserting one of the same ids makes it fail with unique_violation (the partition's id index): the caller
-- rolls back and runs it again, and the second run skips that id. Returns the ids this statement inserted.
-- Envelopes travel as ONE bytea parameter cut apart by offset/length arrays (a bytea[] would go as hex
-- text: twice the bytes and a slow parse). Stream-id offsets only move forward (several persisters
-- commit out of order); other offsets are set as given.
--  $1  ids           text[]
--  $2  stream_ids    text[]
--  $3  topics        text[]
--  $4  types         text[]
--  $5  priorities    smallint[]
--  $6  sent_ms       float8[]   envelope timestamps, ms since epoch
--  $7  env_at        int[]      1-based position of each envelope in $9
--  $8  env_len       int[]      its length in bytes
--  $9  envelopes     bytea      every envelope, concatenated
--  $10 headers       text[]     JSON objects
--  $11 traceparents  text[]     NULL where none
--  $12 reply_tos     text[]     NULL where none
--  $13 groups        text[]     offsets: consumer group
--  $14 offset_topics text[]     offsets: topic (stream)
--  $15 offsets       text[]     offsets: value
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
SELECT id FROM ins
