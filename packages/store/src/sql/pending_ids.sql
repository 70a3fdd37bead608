-- pending_ids: which of $1 are still first-attempt PENDING rows (the others need no more watching),
-- optionally only those not updated for $2 ms.
--  $1 ids           text[]
--  $2 older_than_ms float8  NULL: any age
SELECT m.id FROM unnest($1::text[]) AS u(id) JOIN messages m ON m.id = u.id
WHERE m.status = 'PENDING' AND m.retry_count = 0
  AND ($2::float8 IS NULL OR m.updated_at < now() - $2 * interval '1 millisecond')
