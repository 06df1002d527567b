-- spend: requests, errors, tokens by kind, computed (contracted and list) and gateway-reported
-- cost and what caching saved, per group and time bucket, from the events. Dimensions are always
-- selected; a dimension not grouped by is NULL (its CASE is constant), so one static statement
-- serves every `group_by` and nothing is spliced into SQL. `spend_rollup.sql` is the same over
-- the hourly rollup, used when no user, API key or tag is involved and every bound is on an hour.
--
-- Parameters:
--   $from, $to                 TIMESTAMP    half-open range [from, to), UTC
--   $bucket_starts             TIMESTAMP[]  sorted bucket starts, UTC; the first is <= $from
--   $unit_seconds              BIGINT       a length dividing every bucket start but the first
--   $one_bucket                BOOLEAN      there is one bucket (no time bucketing)
--   $g_<dimension>             BOOLEAN      group by that dimension (team, project, user,
--                                           api_key, provider, model, model_requested, route,
--                                           source, status, error_type)
--   $g_tag1, $g_tag2, $g_tag3  VARCHAR      tag keys to group by, or NULL
--   $f_<dimension>             VARCHAR[]    allowed values, or NULL for no filter
--                                           ($f_status is INTEGER[])
--   $f_tag1_key … $f_tag3_key  VARCHAR      tag key to filter on, or NULL
--   $f_tag1_values …           VARCHAR[]    allowed values of that tag
--
-- Result columns: bucket_start, team, project, user, api_key, provider, model (the
--   model_key), model_requested, route, source, status, error_type, tag1, tag2, tag3, requests, errors, input_tokens, output_tokens,
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
-- Each unit of the range ($unit_seconds: 15 minutes, unless a bucket starts off the quarter
-- hour) with the bucket it belongs to: events join it on their unit, a hash join on a small
-- table, instead of an ASOF join per event.
units AS (
    SELECT u.unit_start, b.bucket_start
    FROM (
        SELECT unnest(range(
            time_bucket(to_seconds($unit_seconds::BIGINT), $from::TIMESTAMP),
            $to::TIMESTAMP,
            to_seconds($unit_seconds::BIGINT))) AS unit_start
    ) u
    ASOF JOIN buckets b ON greatest(u.unit_start, $from::TIMESTAMP) >= b.bucket_start
    WHERE NOT $one_bucket::BOOLEAN
    UNION ALL
    -- One bucket holds every event: a one-row table, joined without a key.
    SELECT NULL::TIMESTAMP AS unit_start, bucket_start FROM buckets WHERE $one_bucket::BOOLEAN
),
events AS (
    SELECT *
    FROM usage_events
    WHERE ts >= $from::TIMESTAMP
      AND ts < $to::TIMESTAMP
      AND ($f_team::VARCHAR[] IS NULL OR list_contains($f_team::VARCHAR[], team))
      AND ($f_project::VARCHAR[] IS NULL OR list_contains($f_project::VARCHAR[], project))
      AND ($f_user::VARCHAR[] IS NULL OR list_contains($f_user::VARCHAR[], user_id))
      AND ($f_api_key::VARCHAR[] IS NULL OR list_contains($f_api_key::VARCHAR[], api_key_id))
      AND ($f_provider::VARCHAR[] IS NULL OR list_contains($f_provider::VARCHAR[], provider))
      AND ($f_model::VARCHAR[] IS NULL OR list_contains($f_model::VARCHAR[], model_key))
      AND ($f_model_requested::VARCHAR[] IS NULL OR list_contains($f_model_requested::VARCHAR[], model_requested))
      AND ($f_route::VARCHAR[] IS NULL OR list_contains($f_route::VARCHAR[], route))
      AND ($f_source::VARCHAR[] IS NULL OR list_contains($f_source::VARCHAR[], source))
      AND ($f_status::INTEGER[] IS NULL OR list_contains($f_status::INTEGER[], status_code))
      AND ($f_error_type::VARCHAR[] IS NULL OR list_contains($f_error_type::VARCHAR[], error_type))
      AND ($f_tag1_key::VARCHAR IS NULL OR list_contains($f_tag1_values::VARCHAR[], tags[$f_tag1_key::VARCHAR]))
      AND ($f_tag2_key::VARCHAR IS NULL OR list_contains($f_tag2_values::VARCHAR[], tags[$f_tag2_key::VARCHAR]))
      AND ($f_tag3_key::VARCHAR IS NULL OR list_contains($f_tag3_values::VARCHAR[], tags[$f_tag3_key::VARCHAR]))
)
SELECT
    b.bucket_start,
    CASE WHEN $g_team::BOOLEAN THEN e.team END AS team,
    CASE WHEN $g_project::BOOLEAN THEN e.project END AS project,
    CASE WHEN $g_user::BOOLEAN THEN e.user_id END AS "user",
    CASE WHEN $g_api_key::BOOLEAN THEN e.api_key_id END AS api_key,
    CASE WHEN $g_provider::BOOLEAN THEN e.provider END AS provider,
    CASE WHEN $g_model::BOOLEAN THEN e.model_key END AS model,
    CASE WHEN $g_model_requested::BOOLEAN THEN e.model_requested END AS model_requested,
    CASE WHEN $g_route::BOOLEAN THEN e.route END AS route,
    CASE WHEN $g_source::BOOLEAN THEN e.source END AS source,
    CASE WHEN $g_status::BOOLEAN THEN e.status_code END AS status,
    CASE WHEN $g_error_type::BOOLEAN THEN e.error_type END AS error_type,
    CASE WHEN $g_tag1::VARCHAR IS NOT NULL THEN e.tags[$g_tag1::VARCHAR] END AS tag1,
    CASE WHEN $g_tag2::VARCHAR IS NOT NULL THEN e.tags[$g_tag2::VARCHAR] END AS tag2,
    CASE WHEN $g_tag3::VARCHAR IS NOT NULL THEN e.tags[$g_tag3::VARCHAR] END AS tag3,
    sum(e.request_count)::BIGINT AS requests,
    sum(CASE WHEN e.is_error THEN e.request_count ELSE 0 END)::BIGINT AS errors,
    sum(e.input_tokens)::BIGINT AS input_tokens,
    sum(e.output_tokens)::BIGINT AS output_tokens,
    sum(e.cached_input_tokens)::BIGINT AS cached_input_tokens,
    sum(e.cache_write_tokens)::BIGINT AS cache_write_tokens,
    sum(e.cache_write_1h_tokens)::BIGINT AS cache_write_1h_tokens,
    sum(e.reasoning_tokens)::BIGINT AS reasoning_tokens,
    sum(e.cost_usd)::DECIMAL(38, 12) AS cost_usd,
    sum(e.list_cost_usd)::DECIMAL(38, 12) AS list_cost_usd,
    sum(e.reported_cost_usd)::DECIMAL(38, 12) AS reported_cost_usd,
    sum(CASE WHEN e.cost_source = 'unpriced' THEN e.request_count ELSE 0 END)::BIGINT AS unpriced_requests,
    sum(CASE WHEN e.cache_hit THEN e.request_count ELSE 0 END)::BIGINT AS cache_hits,
    sum(e.cache_savings_usd)::DECIMAL(38, 12) AS cache_savings_usd,
    sum(e.cache_hit_savings_usd)::DECIMAL(38, 12) AS cache_hit_savings_usd,
    sum(CASE WHEN e.fallback_from IS NOT NULL THEN e.request_count ELSE 0 END)::BIGINT AS fallbacks,
    sum(e.attempts)::BIGINT AS attempts
FROM events e
JOIN units b ON $one_bucket::BOOLEAN OR time_bucket(to_seconds($unit_seconds::BIGINT), e.ts) = b.unit_start
GROUP BY ALL
ORDER BY b.bucket_start
