-- Up Migration
-- Fleet durable log and persistent queue (packages/store; apps/persister/README.md "Schema").

-- One row per message id, whatever replays and resends happen (UNIQUE id = the idempotency key).
-- `seq` is the durable-log offset used for replay (readFrom / fleet replay).
-- The binary envelope is stored as received: re-dispatch sends the exact bytes, and the payload is
-- inside it, so no separate payload column doubles the largest value of the row.
CREATE TABLE messages (
  seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id           text COLLATE "C" NOT NULL UNIQUE,
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
  status       text NOT NULL DEFAULT 'PENDING'
               CHECK (status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'DEAD')),
  retry_count  integer NOT NULL DEFAULT 0,
  last_error   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Dequeue / sweep (PENDING, PROCESSING oldest first) and retention (COMPLETED, DEAD older than).
CREATE INDEX messages_status_updated_at_idx ON messages (status, updated_at);
-- Replay of one topic from an offset.
CREATE INDEX messages_topic_seq_idx ON messages (topic, seq);
-- Retry scheduler and dead-letter listing; small because only failed rows enter it.
CREATE INDEX messages_failed_dead_idx ON messages (topic, updated_at) WHERE status IN ('FAILED', 'DEAD');

-- Every status change rewrites the row and its index entries (status is indexed, so no HOT updates);
-- vacuum high-churn tables early rather than at the default 20 % dead rows.
ALTER TABLE messages SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);

-- Last stream offset durably persisted per (consumer group, stream or topic).
CREATE TABLE consumer_offsets (
  consumer_group text NOT NULL,
  topic          text NOT NULL,
  "offset"       text NOT NULL,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer_group, topic)
);

-- Stream entries that could not be decoded: kept with the reason for ops, never retried.
CREATE TABLE dead_entries (
  stream     text NOT NULL,
  stream_id  text NOT NULL,
  reason     text NOT NULL,
  fields     jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (stream, stream_id)
);
CREATE INDEX dead_entries_created_at_idx ON dead_entries (created_at);

-- Down Migration
DROP TABLE dead_entries;
DROP TABLE consumer_offsets;
DROP TABLE messages;
