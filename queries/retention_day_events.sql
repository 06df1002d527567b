-- retention_day_events: the dedupe identity of the events of one UTC day, so the writer can
-- delete their `event_keys` rows (the 128-bit key is computed in Rust, `store::rows::event_key`).
--
-- Parameters:
--   $from, $to  TIMESTAMP  the day, half-open [from, to), UTC
--
-- Result columns: source, event_id
SELECT source, event_id
FROM usage_events
WHERE ts >= $from::TIMESTAMP
  AND ts < $to::TIMESTAMP
