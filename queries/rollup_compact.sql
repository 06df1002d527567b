-- rollup_compact: the rows of a rollup in some units (hours or days), merged into one row per
-- key; keys whose events all moved away (a re-price) vanish. The writer replaces those units'
-- rows with these in one transaction. A template like `rollup_append.sql`: `{rollup}` and
-- `{unit}`.
--
-- Parameters:
--   $units  TIMESTAMP[]  the unit starts to compact
--
-- Result columns: the rollup's columns.
SELECT
    {unit}, source, team, project, provider, model_key, model_requested, route, fallback_from, status_code, error_type, cost_source, service_tier, cache_hit,
    sum(requests)::BIGINT AS requests,
    sum(records)::BIGINT AS records,
    sum(errors)::BIGINT AS errors,
    sum(attempts)::BIGINT AS attempts,
    sum(input_tokens)::BIGINT AS input_tokens,
    sum(output_tokens)::BIGINT AS output_tokens,
    sum(cached_input_tokens)::BIGINT AS cached_input_tokens,
    sum(cache_write_tokens)::BIGINT AS cache_write_tokens,
    sum(cache_write_1h_tokens)::BIGINT AS cache_write_1h_tokens,
    sum(reasoning_tokens)::BIGINT AS reasoning_tokens,
    sum(cost_usd)::DECIMAL(38, 12) AS cost_usd,
    sum(list_cost_usd)::DECIMAL(38, 12) AS list_cost_usd,
    sum(reported_cost_usd)::DECIMAL(38, 12) AS reported_cost_usd,
    sum(reported_requests)::BIGINT AS reported_requests,
    sum(unpriced_requests)::BIGINT AS unpriced_requests,
    sum(cache_savings_usd)::DECIMAL(38, 12) AS cache_savings_usd,
    sum(cache_hit_savings_usd)::DECIMAL(38, 12) AS cache_hit_savings_usd,
    sum(latency_ms_sum)::DOUBLE AS latency_ms_sum,
    sum(latency_count)::BIGINT AS latency_count,
    sum(ttft_ms_sum)::DOUBLE AS ttft_ms_sum,
    sum(ttft_count)::BIGINT AS ttft_count
FROM {rollup}
WHERE {unit} IN (SELECT unnest($units::TIMESTAMP[]))
GROUP BY {unit}, source, team, project, provider, model_key, model_requested, route, fallback_from, status_code, error_type, cost_source, service_tier, cache_hit
HAVING sum(records) <> 0
