-- count_dead_topic: count_dead.sql for one topic (each DEAD row of messages_open looked up in messages by
-- seq: bounded by $1 like count_dead).
--  $1 most rows counted int
--  $2 topic text
SELECT count(*)::int AS n FROM (
  SELECT 1 FROM messages_open o JOIN messages m ON m.seq = o.seq
  WHERE o.status = 'DEAD' AND m.status = 'DEAD' AND m.topic = $2 LIMIT $1
) d
