-- retention_day_events: the identities of the events of one UTC day, so the writer can forget
-- their dedupe fingerprints once the day is deleted (`store::dedupe`).
--
-- Parameters:
--   $from, $to  TIMESTAMP  the day, half-open [from, to), UTC
--
-- Result columns: source, event_id
SELECT source, event_id
FROM usage_events
WHERE ts >= $from::TIMESTAMP
  AND ts < $to::TIMESTAMP
