-- export_hours: how many events each UTC hour of a range holds, so an export can be read in
-- windows of whole hours with a bounded number of rows each.
--
-- Parameters (as export.sql):
--   $from, $to    TIMESTAMP  half-open range [from, to), UTC
--   $team         VARCHAR    only this team; NULL for all
--   $scope_team   VARCHAR    the team an API key is scoped to; NULL for all
--   $source       VARCHAR    only this source; NULL for all
--
-- Result columns: hour (TIMESTAMP, UTC), events (BIGINT); hours without events are absent.
SELECT date_trunc('hour', ts) AS hour, count(*) AS events
FROM usage_events
WHERE ts >= $from::TIMESTAMP
  AND ts < $to::TIMESTAMP
  AND ($team::VARCHAR IS NULL OR team = $team::VARCHAR)
  AND ($scope_team::VARCHAR IS NULL OR team = $scope_team::VARCHAR)
  AND ($source::VARCHAR IS NULL OR source = $source::VARCHAR)
GROUP BY hour
ORDER BY hour
