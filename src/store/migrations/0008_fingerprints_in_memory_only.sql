-- 0008_fingerprints_in_memory_only: `usage_events.event_fp` goes. The writer hashes the stored
-- identities `(source, event_id)` at startup with a key of its own (`store::dedupe`) instead of
-- reading them back, and checks a suspected duplicate against `event_id` itself. The column was
-- 8 of about 80 bytes per stored event, and random 64-bit values do not compress.
ALTER TABLE usage_events DROP COLUMN event_fp;
