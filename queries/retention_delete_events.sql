-- retention_delete_events: deletes the events of one UTC day. Rollups (`rollup_hourly`) and the
-- FOCUS ledger (`focus_lines`) are not touched: reports over old periods still answer from them.
--
-- Parameters:
--   $from, $to  TIMESTAMP  the day, half-open [from, to), UTC
--
-- Result: the number of rows deleted.
DELETE FROM usage_events
WHERE ts >= $from::TIMESTAMP
  AND ts < $to::TIMESTAMP
