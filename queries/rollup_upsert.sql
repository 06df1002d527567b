-- rollup_upsert: adds the events staged in `staged_events` (with `sign` +1, or -1 to take an
-- event's old version out before a re-price) to a rollup, one row per UTC unit × dimensions. A
-- template for both rollups: `{rollup}` `rollup_hourly` with `{unit}` `hour`, and `rollup_daily`
-- with `day`. Run by the writer, for both, inside the transaction that stores (or re-prices)
-- the events.
--
-- Parameters: none (reads the temp table `staged_events`: the columns of usage_events + sign).
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
    requests, records, errors, attempts, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, cache_write_1h_tokens, reasoning_tokens,
    cost_usd, list_cost_usd, reported_cost_usd, reported_requests, unpriced_requests,
    cache_savings_usd, cache_hit_savings_usd, latency_ms_sum, latency_count, ttft_ms_sum, ttft_count
FROM (
    SELECT
        date_trunc('{unit}', ts) AS {unit}, source, team, project, provider, model_key, model_requested, route, fallback_from, status_code, error_type, cost_source, service_tier, cache_hit,
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
    GROUP BY date_trunc('{unit}', ts), source, team, project, provider, model_key, model_requested, route, fallback_from, status_code, error_type, cost_source, service_tier, cache_hit
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
