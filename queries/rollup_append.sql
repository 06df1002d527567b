-- rollup_append: appends the deltas a re-price staged in `staged_rollup` (one row per UTC hour ×
-- dimensions, from `rollup_deltas.sql`) to a rollup, summed to its unit. (Ingest sums its deltas
-- per hour and per day in `store::rollup` and appends them without SQL.) A template for both rollups: `{rollup}` `rollup_hourly` with `{unit}` `hour`, and
-- `rollup_daily` with `day`. Run by the writer, for both, inside the transaction that stores (or
-- re-prices) the events. A key may then have several rows until `rollup_compact.sql` merges them;
-- reports sum the rows, so they are exact either way.
--
-- Parameters: none (reads the temp table `staged_rollup`).
-- Result: rows appended to the rollup.
INSERT INTO {rollup}
SELECT
    date_trunc('{unit}', hour) AS {unit}, source, team, project, provider, model_key, model_requested, route, fallback_from, status_code, error_type, cost_source, service_tier, cache_hit,
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
FROM staged_rollup
GROUP BY date_trunc('{unit}', hour), source, team, project, provider, model_key, model_requested, route, fallback_from, status_code, error_type, cost_source, service_tier, cache_hit
