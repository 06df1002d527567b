-- reconciliation: computed versus gateway-reported cost per time bucket (default: day) ×
-- source × provider × model. Only calls that carry both a computed and a reported cost are
-- compared; the others are counted apart so that coverage is visible.
--
-- Parameters:
--   $from, $to                 TIMESTAMP    half-open range [from, to), UTC
--   $bucket_starts             TIMESTAMP[]  sorted bucket starts, UTC; the first is <= $from
--   $unit_seconds              BIGINT       a length dividing every bucket start but the first
--   $one_bucket                BOOLEAN      there is one bucket (no time bucketing)
--   $f_<dimension>             VARCHAR[]    allowed values, or NULL for no filter (team, project,
--                                           user, api_key, provider, model, model_requested,
--                                           route, source, error_type; $f_status is INTEGER[])
--   $f_tag1_key … $f_tag3_key  VARCHAR      tag key to filter on, or NULL
--   $f_tag1_values …           VARCHAR[]    its allowed values
--
-- Result columns: bucket_start, source, provider, model (model_key), compared_requests,
--   computed_cost_usd, reported_cost_usd, difference_usd (computed − reported),
--   relative_difference (difference / reported; NULL when reported is 0),
--   not_reported_requests (priced, no gateway figure), unpriced_requests
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
),
grouped AS (
    SELECT
        b.bucket_start,
        e.source,
        e.provider,
        e.model_key AS model,
        sum(e.request_count) FILTER (WHERE e.cost_source = 'catalog' AND e.reported_cost_usd IS NOT NULL)::BIGINT
            AS compared_requests,
        sum(e.cost_usd) FILTER (WHERE e.cost_source = 'catalog' AND e.reported_cost_usd IS NOT NULL)::DECIMAL(38, 12)
            AS computed_cost_usd,
        sum(e.reported_cost_usd) FILTER (WHERE e.cost_source = 'catalog' AND e.reported_cost_usd IS NOT NULL)::DECIMAL(38, 12)
            AS reported_cost_usd,
        sum(e.request_count) FILTER (WHERE e.cost_source = 'catalog' AND e.reported_cost_usd IS NULL)::BIGINT
            AS not_reported_requests,
        sum(e.request_count) FILTER (WHERE e.cost_source <> 'catalog')::BIGINT AS unpriced_requests
    FROM events e
    JOIN units b ON $one_bucket::BOOLEAN OR time_bucket(to_seconds($unit_seconds::BIGINT), e.ts) = b.unit_start
    GROUP BY ALL
)
SELECT
    bucket_start,
    source,
    provider,
    model,
    compared_requests,
    computed_cost_usd,
    reported_cost_usd,
    (coalesce(computed_cost_usd, 0) - coalesce(reported_cost_usd, 0))::DECIMAL(38, 12) AS difference_usd,
    CASE WHEN coalesce(reported_cost_usd, 0) = 0 THEN NULL
         ELSE round((coalesce(computed_cost_usd, 0) - reported_cost_usd)::DOUBLE / reported_cost_usd::DOUBLE, 6)
    END AS relative_difference,
    not_reported_requests,
    unpriced_requests
FROM grouped
ORDER BY bucket_start, abs(difference_usd) DESC, source, provider, model
