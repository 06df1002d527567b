-- retention_day_events: the dedupe fingerprints of the events of one UTC day, so the writer can
-- forget them once the day is deleted (`store::dedupe`).
--
-- Parameters:
--   $from, $to  TIMESTAMP  the day, half-open [from, to), UTC
--
-- Result columns: event_fp
SELECT event_fp
FROM usage_events
WHERE ts >= $from::TIMESTAMP
  AND ts < $to::TIMESTAMP
