/**
 * Stream entries a gateway-only bench keeps while it trims in place of the persister. Far below the
 * gateway's backlog bound (pressure.max_backlog_messages, 1M messages by default, ~100 per entry): a bench
 * that let the stream grow to 100K entries (~10M messages) measured the gateway's OVERLOADED pushback and
 * the client's retries (a flat ~125K acked/s at every connection count), not its ingest.
 */
export const TRIM_ENTRIES = 1_000;
