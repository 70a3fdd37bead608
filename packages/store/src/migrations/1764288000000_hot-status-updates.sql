-- Up Migration
-- Status changes as HOT updates (heap-only: no index entry is written when a row changes status).
-- PostgreSQL can update a row in place on its page only when no indexed column changes (columns in
-- partial-index predicates count) and the page has room. So:
--   * no index of `messages` names status, updated_at, retry_count or last_error;
--   * pages are filled to half at insert, leaving room for the row's next version;
--   * the rows that are not COMPLETED (in flight, waiting for a retry, dead-lettered) are indexed by status
--     in `messages_open`, a narrow side table that mirrors their status and updated_at. The statements of
--     the persistent queue (packages/store: PersistStore and MessageQueue) keep both tables in step in one statement: a
--     row enters at insert, follows every status change and leaves when it becomes COMPLETED or is deleted.
--     The hot path (PENDING -> COMPLETED) is one HOT update plus one narrow delete.
CREATE TABLE messages_open (
  seq        bigint PRIMARY KEY,
  status     text NOT NULL CHECK (status IN ('PENDING', 'PROCESSING', 'FAILED', 'DEAD')),
  updated_at timestamptz NOT NULL
);
INSERT INTO messages_open (seq, status, updated_at)
  SELECT seq, status, updated_at FROM messages WHERE status <> 'COMPLETED';
-- Dequeue, sweep, retries, count_pending, dead-letter listing and DEAD retention.
CREATE INDEX messages_open_status_updated_at_idx ON messages_open (status, updated_at);
-- Every message passes through it (insert, then delete): vacuum and re-analyze it early.
ALTER TABLE messages_open SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);

DROP INDEX messages_status_updated_at_idx;
DROP INDEX messages_failed_dead_idx;
-- Retention of COMPLETED rows walks them by creation time (created_at never changes: HOT is kept).
CREATE INDEX messages_created_at_idx ON messages (created_at);
ALTER TABLE messages SET (fillfactor = 50);

-- Down Migration
ALTER TABLE messages RESET (fillfactor);
DROP INDEX messages_created_at_idx;
CREATE INDEX messages_failed_dead_idx ON messages (topic, updated_at) WHERE status IN ('FAILED', 'DEAD');
CREATE INDEX messages_status_updated_at_idx ON messages (status, updated_at);
DROP TABLE messages_open;
