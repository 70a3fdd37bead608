-- save_offset: sets a consumer group's offset for a topic exactly (a replay may move it back).
--  $1 consumer_group text
--  $2 topic          text
--  $3 offset         text
INSERT INTO consumer_offsets (consumer_group, topic, "offset", updated_at) VALUES ($1, $2, $3, now())
ON CONFLICT (consumer_group, topic) DO UPDATE SET "offset" = EXCLUDED."offset", updated_at = EXCLUDED.updated_at
