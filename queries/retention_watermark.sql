-- retention_watermark: the highest cutoff any retention pass started with (NULL before the
-- first pass). Records before it are refused at ingest as `expired`.
--
-- Parameters: none
--
-- Result columns: cutoff (TIMESTAMP, UTC, or NULL)
SELECT max(cutoff) AS cutoff
FROM retention_runs
