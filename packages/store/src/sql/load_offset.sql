-- load_offset: a consumer group's saved offset for a topic (no row: never saved).
--  $1 consumer_group text
--  $2 topic          text
SELECT "offset" FROM consumer_offsets WHERE consumer_group = $1 AND topic = $2
