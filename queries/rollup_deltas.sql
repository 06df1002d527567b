-- rollup_deltas: the hourly rollup deltas of the events staged in `staged_events` (with `sign`
-- +1, or -1 to take an event's old version out before a re-price), into `staged_rollup`. Used by
-- re-pricing; ingest sums its deltas in Rust (`store::rollup`) and appends them directly. Then
-- `rollup_append.sql` adds them to both rollups.
--
-- Parameters: none (reads the temp table `staged_events`: the columns of usage_events + sign).
-- Result: rows of `staged_rollup` (the columns of rollup_hourly).
INSERT INTO staged_rollup
SELECT
    date_trunc('hour', ts) AS hour, source, team, project, provider, model_key, model_requested, route, fallback_from, status_code, error_type, cost_source, service_tier, cache_hit,
    sum(sign * request_count)::BIGINT AS requests,
    sum(sign)::BIGINT AS records,
    sum(CASE WHEN is_error THEN sign * request_count ELSE 0 END)::BIGINT AS errors,
    sum(sign * attempts)::BIGINT AS attempts,
    sum(sign * input_tokens)::BIGINT AS input_tokens,
    sum(sign * output_tokens)::BIGINT AS output_tokens,
    sum(sign * cached_input_tokens)::BIGINT AS cached_input_tokens,
    sum(sign * cache_write_tokens)::BIGINT AS cache_write_tokens,
    sum(sign * cache_write_1h_tokens)::BIGINT AS cache_write_1h_tokens,
    sum(sign * reasoning_tokens)::BIGINT AS reasoning_tokens,
    sum(sign * cost_usd)::DECIMAL(38, 12) AS cost_usd,
    sum(sign * list_cost_usd)::DECIMAL(38, 12) AS list_cost_usd,
    sum(sign * reported_cost_usd)::DECIMAL(38, 12) AS reported_cost_usd,
    sum(CASE WHEN reported_cost_usd IS NOT NULL THEN sign * request_count ELSE 0 END)::BIGINT AS reported_requests,
    sum(CASE WHEN cost_source = 'unpriced' THEN sign * request_count ELSE 0 END)::BIGINT AS unpriced_requests,
    sum(sign * cache_savings_usd)::DECIMAL(38, 12) AS cache_savings_usd,
    sum(sign * cache_hit_savings_usd)::DECIMAL(38, 12) AS cache_hit_savings_usd,
    coalesce(sum(sign * latency_ms), 0)::DOUBLE AS latency_ms_sum,
    sum(CASE WHEN latency_ms IS NOT NULL THEN sign ELSE 0 END)::BIGINT AS latency_count,
    coalesce(sum(sign * ttft_ms), 0)::DOUBLE AS ttft_ms_sum,
    sum(CASE WHEN ttft_ms IS NOT NULL THEN sign ELSE 0 END)::BIGINT AS ttft_count
FROM staged_events
GROUP BY date_trunc('hour', ts), source, team, project, provider, model_key, model_requested, route, fallback_from, status_code, error_type, cost_source, service_tier, cache_hit;
