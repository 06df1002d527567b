-- rollup_upsert: adds the events staged in `staged_events` (with `sign` +1, or -1 to take an
-- event's old version out before a re-price) to `rollup_hourly`, one row per UTC hour ×
-- dimensions. Run by the writer inside the transaction that stores (or re-prices) the events.
--
-- Parameters: none (reads the temp table `staged_events`: the columns of usage_events + sign).
-- Result: rows inserted or updated in rollup_hourly. Money adds null-safely:
--   coalesce(old + new, old, new) keeps NULL only when both sides are NULL.
INSERT INTO rollup_hourly
SELECT
    md5_number(concat_ws(chr(31),
        hour::VARCHAR, source, team, coalesce(project, chr(30)), provider, model_key,
        model_requested, coalesce(route, chr(30)), coalesce(fallback_from, chr(30)),
        status_code::VARCHAR, coalesce(error_type, chr(30)), cost_source, service_tier,
        cache_hit::VARCHAR)) AS rollup_key,
    hour, source, team, project, provider, model_key, model_requested, route, fallback_from, status_code, error_type, cost_source, service_tier, cache_hit,
    requests, records, errors, attempts, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, cache_write_1h_tokens, reasoning_tokens,
    cost_usd, list_cost_usd, reported_cost_usd, reported_requests, unpriced_requests,
    cache_savings_usd, cache_hit_savings_usd, latency_ms_sum, latency_count, ttft_ms_sum, ttft_count
FROM (
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
    GROUP BY date_trunc('hour', ts), source, team, project, provider, model_key, model_requested, route, fallback_from, status_code, error_type, cost_source, service_tier, cache_hit
)
ON CONFLICT (rollup_key) DO UPDATE SET
    requests = rollup_hourly.requests + EXCLUDED.requests,
    records = rollup_hourly.records + EXCLUDED.records,
    errors = rollup_hourly.errors + EXCLUDED.errors,
    attempts = rollup_hourly.attempts + EXCLUDED.attempts,
    input_tokens = rollup_hourly.input_tokens + EXCLUDED.input_tokens,
    output_tokens = rollup_hourly.output_tokens + EXCLUDED.output_tokens,
    cached_input_tokens = rollup_hourly.cached_input_tokens + EXCLUDED.cached_input_tokens,
    cache_write_tokens = rollup_hourly.cache_write_tokens + EXCLUDED.cache_write_tokens,
    cache_write_1h_tokens = rollup_hourly.cache_write_1h_tokens + EXCLUDED.cache_write_1h_tokens,
    reasoning_tokens = rollup_hourly.reasoning_tokens + EXCLUDED.reasoning_tokens,
    reported_requests = rollup_hourly.reported_requests + EXCLUDED.reported_requests,
    unpriced_requests = rollup_hourly.unpriced_requests + EXCLUDED.unpriced_requests,
    latency_count = rollup_hourly.latency_count + EXCLUDED.latency_count,
    ttft_count = rollup_hourly.ttft_count + EXCLUDED.ttft_count,
    cost_usd = coalesce(rollup_hourly.cost_usd + EXCLUDED.cost_usd, rollup_hourly.cost_usd, EXCLUDED.cost_usd),
    list_cost_usd = coalesce(rollup_hourly.list_cost_usd + EXCLUDED.list_cost_usd, rollup_hourly.list_cost_usd, EXCLUDED.list_cost_usd),
    reported_cost_usd = coalesce(rollup_hourly.reported_cost_usd + EXCLUDED.reported_cost_usd, rollup_hourly.reported_cost_usd, EXCLUDED.reported_cost_usd),
    cache_savings_usd = coalesce(rollup_hourly.cache_savings_usd + EXCLUDED.cache_savings_usd, rollup_hourly.cache_savings_usd, EXCLUDED.cache_savings_usd),
    cache_hit_savings_usd = coalesce(rollup_hourly.cache_hit_savings_usd + EXCLUDED.cache_hit_savings_usd, rollup_hourly.cache_hit_savings_usd, EXCLUDED.cache_hit_savings_usd),
    latency_ms_sum = rollup_hourly.latency_ms_sum + EXCLUDED.latency_ms_sum,
    ttft_ms_sum = rollup_hourly.ttft_ms_sum + EXCLUDED.ttft_ms_sum
