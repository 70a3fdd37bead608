-- count_dead_topic: count_dead.sql for one topic: each DEAD row of messages_open looked up in messages by
-- seq (a LATERAL probe with LIMIT 1: never flattened into a join that reads every partition's index),
-- bounded by $1 like count_dead.
--  $1 most rows counted int
--  $2 topic text
SELECT count(*)::int AS n FROM (
  SELECT 1 FROM messages_open o
  CROSS JOIN LATERAL (
    SELECT 1 FROM messages m WHERE m.seq = o.seq AND m.status = 'DEAD' AND m.topic = $2 LIMIT 1
  ) m
  WHERE o.status = 'DEAD' LIMIT $1
) d
