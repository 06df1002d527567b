-- retention_finish: records what a retention pass deleted.
--
-- Parameters:
--   $started_at, $cutoff  TIMESTAMP  identify the pass (as given to retention_start)
--   $finished_at          TIMESTAMP  UTC
--   $days, $events_deleted, $keys_deleted  BIGINT
--
-- Result: one row updated.
UPDATE retention_runs
SET finished_at = $finished_at::TIMESTAMP,
    days = $days::BIGINT,
    events_deleted = $events_deleted::BIGINT,
    keys_deleted = $keys_deleted::BIGINT
WHERE started_at = $started_at::TIMESTAMP
  AND cutoff = $cutoff::TIMESTAMP
