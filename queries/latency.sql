-- latency: percentiles of latency and time to first token, and output tokens per second, per
-- group and time bucket. Exact percentiles (quantile_cont: linear interpolation between the two
-- nearest calls) over the events, which carry every call's timing; aggregated rows
-- (request_count > 1) have no timing and are left out.
--
-- Parameters: as `spend.sql` (from, to, bucket_starts, unit_seconds, one_bucket, $g_*, $f_*,
-- tags).
--
-- Result columns: bucket_start, the dimensions of spend.sql, calls (with a latency),
--   latency_p50_ms, latency_p90_ms, latency_p95_ms, latency_p99_ms, latency_mean_ms,
--   ttft_calls, ttft_p50_ms, ttft_p90_ms, ttft_p95_ms, ttft_p99_ms,
--   tokens_per_second_p50, tokens_per_second_p90 (output tokens ÷ seconds after the first
--   token when TTFT is known, else ÷ the whole latency; calls with output only).
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
      AND latency_ms IS NOT NULL
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
measured AS (
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
        e.latency_ms,
        e.ttft_ms,
        CASE
            WHEN e.output_tokens > 0 AND e.latency_ms - coalesce(e.ttft_ms, 0) > 0
            THEN e.output_tokens / ((e.latency_ms - coalesce(e.ttft_ms, 0)) / 1000.0)
        END AS tokens_per_second
    FROM events e
    JOIN units b ON $one_bucket::BOOLEAN OR time_bucket(to_seconds($unit_seconds::BIGINT), e.ts) = b.unit_start
),
summary AS (
    SELECT
        * EXCLUDE (latency_ms, ttft_ms, tokens_per_second),
        count(latency_ms)::BIGINT AS calls,
        quantile_cont(latency_ms, [0.5, 0.9, 0.95, 0.99]) AS latency,
        avg(latency_ms) AS latency_mean_ms,
        count(ttft_ms)::BIGINT AS ttft_calls,
        quantile_cont(ttft_ms, [0.5, 0.9, 0.95, 0.99]) AS ttft,
        quantile_cont(tokens_per_second, [0.5, 0.9]) AS speed
    FROM measured
    GROUP BY ALL
)
SELECT
    * EXCLUDE (latency, ttft, speed),
    round(latency[1], 3) AS latency_p50_ms,
    round(latency[2], 3) AS latency_p90_ms,
    round(latency[3], 3) AS latency_p95_ms,
    round(latency[4], 3) AS latency_p99_ms,
    round(ttft[1], 3) AS ttft_p50_ms,
    round(ttft[2], 3) AS ttft_p90_ms,
    round(ttft[3], 3) AS ttft_p95_ms,
    round(ttft[4], 3) AS ttft_p99_ms,
    round(speed[1], 3) AS tokens_per_second_p50,
    round(speed[2], 3) AS tokens_per_second_p90
FROM summary
ORDER BY bucket_start
