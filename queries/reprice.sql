-- reprice: the stored pricing inputs and outcome of the events of a period, for re-pricing.
--
-- Parameters:
--   $from, $to   TIMESTAMP  half-open range [from, to), UTC
--   $model       VARCHAR    only events whose model_key or model is this, or NULL for all
--   $provider    VARCHAR    only events of this provider, or NULL for all
--
-- Result columns: rid (the row id, stable inside the writer's transaction), ts, team, provider,
--   model, model_key, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens,
--   cache_write_1h_tokens, reasoning_tokens, service_tier, request_count, cache_hit,
--   reported_cost_usd, cost_usd, list_cost_usd, cost_source, price_id, contract_id, source,
--   project, cache_savings_usd, cache_hit_savings_usd
SELECT
    rowid AS rid, ts, team, provider, model, model_key, input_tokens, output_tokens,
    cached_input_tokens, cache_write_tokens, cache_write_1h_tokens, reasoning_tokens, service_tier,
    request_count, cache_hit, reported_cost_usd, cost_usd, list_cost_usd, cost_source, price_id,
    contract_id, source, project, cache_savings_usd, cache_hit_savings_usd
FROM usage_events
WHERE ts >= $from::TIMESTAMP
  AND ts < $to::TIMESTAMP
  AND ($model::VARCHAR IS NULL OR model_key = lower($model::VARCHAR) OR model = $model::VARCHAR)
  AND ($provider::VARCHAR IS NULL OR provider = $provider::VARCHAR)
