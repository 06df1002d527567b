-- retention_start: records that a retention pass begins, committing its cutoff before any event
-- is deleted (the watermark ingest checks against survives a crash in the middle of a pass).
--
-- Parameters:
--   $started_at  TIMESTAMP  when the pass began, UTC
--   $cutoff      TIMESTAMP  UTC midnight; events before it are deleted
--
-- Result: one row inserted.
INSERT INTO retention_runs (started_at, cutoff, finished_at, days, events_deleted, keys_deleted)
VALUES ($started_at::TIMESTAMP, $cutoff::TIMESTAMP, NULL, 0, 0, 0)
