-- rollup_upsert: adds the deltas staged in `staged_rollup` (one row per UTC hour × dimensions,
-- from `store::rollup` for ingest or `rollup_deltas.sql` for a re-price) to a rollup. A template
-- for both rollups: `{rollup}` `rollup_hourly` with `{unit}` `hour`, and `rollup_daily` with
-- `day`. Run by the writer, for both, inside the transaction that stores (or re-prices) the
-- events.
--
-- Parameters: none (reads the temp table `staged_rollup`).
-- Result: rows inserted or updated in the rollup. Money adds null-safely:
--   coalesce(old + new, old, new) keeps NULL only when both sides are NULL.
INSERT INTO {rollup}
SELECT
    md5_number(concat_ws(chr(31),
        {unit}::VARCHAR, source, team, coalesce(project, chr(30)), provider, model_key,
        model_requested, coalesce(route, chr(30)), coalesce(fallback_from, chr(30)),
        status_code::VARCHAR, coalesce(error_type, chr(30)), cost_source, service_tier,
        cache_hit::VARCHAR)) AS rollup_key,
    {unit}, source, team, project, provider, model_key, model_requested, route, fallback_from, status_code, error_type, cost_source, service_tier, cache_hit,
    requests, records, errors, attempts, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, cache_write_1h_tokens, reasoning_tokens, cost_usd, list_cost_usd, reported_cost_usd, reported_requests, unpriced_requests, cache_savings_usd, cache_hit_savings_usd, latency_ms_sum, latency_count, ttft_ms_sum, ttft_count
FROM (
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
)
ON CONFLICT (rollup_key) DO UPDATE SET
    requests = {rollup}.requests + EXCLUDED.requests,
    records = {rollup}.records + EXCLUDED.records,
    errors = {rollup}.errors + EXCLUDED.errors,
    attempts = {rollup}.attempts + EXCLUDED.attempts,
    input_tokens = {rollup}.input_tokens + EXCLUDED.input_tokens,
    output_tokens = {rollup}.output_tokens + EXCLUDED.output_tokens,
    cached_input_tokens = {rollup}.cached_input_tokens + EXCLUDED.cached_input_tokens,
    cache_write_tokens = {rollup}.cache_write_tokens + EXCLUDED.cache_write_tokens,
    cache_write_1h_tokens = {rollup}.cache_write_1h_tokens + EXCLUDED.cache_write_1h_tokens,
    reasoning_tokens = {rollup}.reasoning_tokens + EXCLUDED.reasoning_tokens,
    reported_requests = {rollup}.reported_requests + EXCLUDED.reported_requests,
    unpriced_requests = {rollup}.unpriced_requests + EXCLUDED.unpriced_requests,
    latency_count = {rollup}.latency_count + EXCLUDED.latency_count,
    ttft_count = {rollup}.ttft_count + EXCLUDED.ttft_count,
    cost_usd = coalesce({rollup}.cost_usd + EXCLUDED.cost_usd, {rollup}.cost_usd, EXCLUDED.cost_usd),
    list_cost_usd = coalesce({rollup}.list_cost_usd + EXCLUDED.list_cost_usd, {rollup}.list_cost_usd, EXCLUDED.list_cost_usd),
    reported_cost_usd = coalesce({rollup}.reported_cost_usd + EXCLUDED.reported_cost_usd, {rollup}.reported_cost_usd, EXCLUDED.reported_cost_usd),
    cache_savings_usd = coalesce({rollup}.cache_savings_usd + EXCLUDED.cache_savings_usd, {rollup}.cache_savings_usd, EXCLUDED.cache_savings_usd),
    cache_hit_savings_usd = coalesce({rollup}.cache_hit_savings_usd + EXCLUDED.cache_hit_savings_usd, {rollup}.cache_hit_savings_usd, EXCLUDED.cache_hit_savings_usd),
    latency_ms_sum = {rollup}.latency_ms_sum + EXCLUDED.latency_ms_sum,
    ttft_ms_sum = {rollup}.ttft_ms_sum + EXCLUDED.ttft_ms_sum
