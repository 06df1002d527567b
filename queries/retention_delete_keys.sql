-- retention_delete_keys: deletes dedupe keys of deleted events.
--
-- Parameters:
--   $keys  HUGEINT[]  the keys (`store::rows::event_key`)
--
-- Result: the number of rows deleted.
DELETE FROM event_keys
WHERE event_key IN (SELECT unnest($keys::HUGEINT[]))
