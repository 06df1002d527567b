-- spend_rollup: `spend.sql` over a rollup: the same columns, for the dimensions the rollups keep
-- (no user, API key or tags). A template for both rollups: `{rollup}` is `rollup_daily` with
-- `{unit}` `day` (used when every bound and bucket start is a UTC midnight) or `rollup_hourly`
-- with `hour` (every bound and bucket start on a whole UTC hour). Reads thousands of rollup rows
-- instead of millions of events.
--
-- Parameters:
--   $from, $to                 TIMESTAMP    half-open range [from, to), UTC
--   $bucket_starts             TIMESTAMP[]  sorted bucket starts, UTC; the first is <= $from
--   $unit_seconds              BIGINT       (bound for every bucketed report; unused here)
--   $g_<dimension>             BOOLEAN      group by that dimension (team, project, provider,
--                                           model, model_requested, route, source, status,
--                                           error_type)
--   $f_<dimension>             VARCHAR[]    allowed values, or NULL ($f_status is INTEGER[])
--
-- Result columns: bucket_start, team, project, provider, model, model_requested, route,
--   source, status, error_type, requests, errors, input_tokens, output_tokens,
--   cached_input_tokens, cache_write_tokens, cache_write_1h_tokens, reasoning_tokens, cost_usd,
--   list_cost_usd, reported_cost_usd, unpriced_requests, cache_hits, cache_savings_usd,
--   cache_hit_savings_usd, fallbacks (calls served after a fallback), attempts.
--   `requests` sums request_count (aggregated rows count for many calls); `cost_usd` sums the
--   priced rows only (after contracts; `list_cost_usd` at list price), and `unpriced_requests`
--   says how many calls it leaves out. The `model-mix` and `cache-savings` reports are shaped
--   from these same rows, and so are `errors` and `routing`.
WITH buckets AS (
    SELECT unnest($bucket_starts::TIMESTAMP[]) AS bucket_start
),
-- Each hour or day of the range with its bucket: rollup rows join it on equality (a hash join
-- on a small table, not an ASOF join per row).
units AS (
    SELECT u.unit_start, b.bucket_start
    FROM (SELECT unnest(range($from::TIMESTAMP, $to::TIMESTAMP, INTERVAL 1 {unit})) AS unit_start) u
    ASOF JOIN buckets b ON u.unit_start >= b.bucket_start
),
rows AS (
    SELECT *
    FROM {rollup}
    WHERE {unit} >= $from::TIMESTAMP
      AND {unit} < $to::TIMESTAMP
      AND ($f_team::VARCHAR[] IS NULL OR list_contains($f_team::VARCHAR[], team))
      AND ($f_project::VARCHAR[] IS NULL OR list_contains($f_project::VARCHAR[], project))
      AND ($f_provider::VARCHAR[] IS NULL OR list_contains($f_provider::VARCHAR[], provider))
      AND ($f_model::VARCHAR[] IS NULL OR list_contains($f_model::VARCHAR[], model_key))
      AND ($f_model_requested::VARCHAR[] IS NULL OR list_contains($f_model_requested::VARCHAR[], model_requested))
      AND ($f_route::VARCHAR[] IS NULL OR list_contains($f_route::VARCHAR[], route))
      AND ($f_source::VARCHAR[] IS NULL OR list_contains($f_source::VARCHAR[], source))
      AND ($f_status::INTEGER[] IS NULL OR list_contains($f_status::INTEGER[], status_code))
      AND ($f_error_type::VARCHAR[] IS NULL OR list_contains($f_error_type::VARCHAR[], error_type))
)
SELECT
    b.bucket_start,
    CASE WHEN $g_team::BOOLEAN THEN e.team END AS team,
    CASE WHEN $g_project::BOOLEAN THEN e.project END AS project,
    CASE WHEN $g_provider::BOOLEAN THEN e.provider END AS provider,
    CASE WHEN $g_model::BOOLEAN THEN e.model_key END AS model,
    CASE WHEN $g_model_requested::BOOLEAN THEN e.model_requested END AS model_requested,
    CASE WHEN $g_route::BOOLEAN THEN e.route END AS route,
    CASE WHEN $g_source::BOOLEAN THEN e.source END AS source,
    CASE WHEN $g_status::BOOLEAN THEN e.status_code END AS status,
    CASE WHEN $g_error_type::BOOLEAN THEN e.error_type END AS error_type,
    sum(e.requests)::BIGINT AS requests,
    sum(e.errors)::BIGINT AS errors,
    sum(e.input_tokens)::BIGINT AS input_tokens,
    sum(e.output_tokens)::BIGINT AS output_tokens,
    sum(e.cached_input_tokens)::BIGINT AS cached_input_tokens,
    sum(e.cache_write_tokens)::BIGINT AS cache_write_tokens,
    sum(e.cache_write_1h_tokens)::BIGINT AS cache_write_1h_tokens,
    sum(e.reasoning_tokens)::BIGINT AS reasoning_tokens,
    sum(e.cost_usd)::DECIMAL(38, 12) AS cost_usd,
    sum(e.list_cost_usd)::DECIMAL(38, 12) AS list_cost_usd,
    sum(e.reported_cost_usd)::DECIMAL(38, 12) AS reported_cost_usd,
    sum(e.unpriced_requests)::BIGINT AS unpriced_requests,
    sum(CASE WHEN e.cache_hit THEN e.requests ELSE 0 END)::BIGINT AS cache_hits,
    sum(e.cache_savings_usd)::DECIMAL(38, 12) AS cache_savings_usd,
    sum(e.cache_hit_savings_usd)::DECIMAL(38, 12) AS cache_hit_savings_usd,
    sum(CASE WHEN e.fallback_from IS NOT NULL THEN e.requests ELSE 0 END)::BIGINT AS fallbacks,
    sum(e.attempts)::BIGINT AS attempts
FROM rows e
JOIN units b ON e.{unit} = b.unit_start
GROUP BY ALL
ORDER BY b.bucket_start
