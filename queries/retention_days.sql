-- retention_days: the UTC days that hold events older than a retention cutoff, oldest first.
--
-- Parameters:
--   $cutoff  TIMESTAMP  UTC midnight; events with ts < cutoff are to be deleted
--
-- Result columns: day (DATE, UTC)
SELECT DISTINCT CAST(ts AS DATE) AS day
FROM usage_events
WHERE ts < $cutoff::TIMESTAMP
ORDER BY day
