-- Up Migration
-- Status changes as HOT updates (heap-only: no index entry is written when a row changes status).
-- PostgreSQL can update a row in place on its page only when no indexed column changes (columns in
-- partial-index predicates count) and the page has room. So:
--   * no index of `messages` names status, updated_at, retry_count or last_error;
--   * pages are filled to half at insert, leaving room for the row's next version;
--   * the rows that are not COMPLETED (in flight, waiting for a retry, dead-lettered) are found through
--     `messages_open`, a narrow side table kept by the same statements that change a row's status.
-- `messages_open` may hold a seq whose row has since completed or gone (a hand-made UPDATE, say): every
-- reader joins `messages` and re-checks the status, and the sweeper prunes such entries.
CREATE TABLE messages_open (
  seq bigint PRIMARY KEY
);
INSERT INTO messages_open (seq) SELECT seq FROM messages WHERE status <> 'COMPLETED';

DROP INDEX messages_status_updated_at_idx;
DROP INDEX messages_failed_dead_idx;
-- Retention walks old rows by creation time (created_at never changes, so this index keeps HOT).
CREATE INDEX messages_created_at_idx ON messages (created_at);
ALTER TABLE messages SET (fillfactor = 50);

-- Down Migration
ALTER TABLE messages RESET (fillfactor);
DROP INDEX messages_created_at_idx;
CREATE INDEX messages_failed_dead_idx ON messages (topic, updated_at) WHERE status IN ('FAILED', 'DEAD');
CREATE INDEX messages_status_updated_at_idx ON messages (status, updated_at);
DROP TABLE messages_open;
