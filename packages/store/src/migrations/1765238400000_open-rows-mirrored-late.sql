-- Up Migration
-- Rows enter `messages_open` late: only those still open when the sweep looks at their batch.
--
-- Why: every message entered messages_open at insert and left it when COMPLETED, a heap insert, two index
-- entries and a delete per message, for rows nearly all of which complete within a second. Leaving that
-- out cut Postgres' CPU per message by ~2.8 µs (15%) end to end (docs/benchmarks.md, "messages_open
-- mirrored late").
--
-- Now each ingest transaction records its batch in `messages_unmirrored` (one row, committed with the
-- rows): its seq range and how many of its rows are still open. Each row carries the batch's key
-- (`messages.batch`, the inserting transaction's id). An outcome that ends a row at its first attempt
-- (COMPLETED or DEAD with retry_count 0, which happens once per row) counts it off in the same statement;
-- an outcome that leaves a row FAILED, DEAD or PROCESSING puts it into messages_open at once. The sweep
-- first mirrors the batches older than its age (sql/mirror_open.sql): a batch with no row open is just
-- deleted; the rows of any other that are not COMPLETED enter messages_open, and the batch row is deleted,
-- in one transaction. Every open row is in messages_open or in a batch not mirrored yet, never neither, so
-- nothing open is lost to the sweep: a row the sweep looks for (not updated for its age) was inserted
-- before that, so its batch is older than the age too. Retention mirrors the batches of the partitions it
-- drops first; dequeue and count_pending see the batches too.
--
-- ADD COLUMN without a default is a catalog change: no table rewrite. The partitions created ahead wait
-- detached (plain tables, ahead-partitions-detached migration): they get the column too, or ATTACH would
-- refuse them; fleet_log_ensure makes new ones LIKE messages, column included.
ALTER TABLE messages ADD COLUMN batch bigint;
DO $$
DECLARE
  t text;
BEGIN
  FOR t IN SELECT 'messages_p' || p.n FROM message_partitions p
           WHERE to_regclass('messages_p' || p.n) IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM pg_inherits i
                             WHERE i.inhrelid = ('messages_p' || p.n)::regclass AND i.inhparent = 'messages'::regclass)
  LOOP
    EXECUTE format('ALTER TABLE %I ADD COLUMN batch bigint', t);
  END LOOP;
END $$;
CREATE TABLE messages_unmirrored (
  batch      bigint PRIMARY KEY,      -- the ingest transaction's id (txid_current()), as in messages.batch
  lo         bigint NOT NULL,         -- its first seq
  hi         bigint NOT NULL,         -- its last seq
  open       integer NOT NULL,        -- its rows not yet ended at their first attempt
  created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE messages_unmirrored SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);

-- Down Migration
INSERT INTO messages_open (seq, status, updated_at)
  SELECT m.seq, m.status, m.updated_at FROM messages_unmirrored u
  JOIN messages m ON m.seq BETWEEN u.lo AND u.hi AND m.status <> 'COMPLETED'
  WHERE u.open > 0
  ON CONFLICT (seq) DO NOTHING;
DROP TABLE messages_unmirrored;
ALTER TABLE messages DROP COLUMN batch;
DO $$
DECLARE
  t text;
BEGIN
  FOR t IN SELECT 'messages_p' || p.n FROM message_partitions p
           WHERE to_regclass('messages_p' || p.n) IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM pg_inherits i
                             WHERE i.inhrelid = ('messages_p' || p.n)::regclass AND i.inhparent = 'messages'::regclass)
  LOOP
    EXECUTE format('ALTER TABLE %I DROP COLUMN batch', t);
  END LOOP;
END $$;
