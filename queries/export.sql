-- export: the canonical events of a time range, oldest first.
--
-- Parameters:
--   $from, $to  TIMESTAMP  half-open range [from, to), UTC
--
-- Result columns (the canonical record, DESIGN.md, plus the server-computed fields):
--   event_id, source, ts, team, project, user_id, api_key_id, tags, provider, model_requested,
--   model, model_key, route, fallback_from, attempts, request_count, input_tokens, output_tokens,
--   cached_input_tokens, cache_write_tokens, cache_write_1h_tokens, reasoning_tokens,
--   service_tier, reported_cost_usd, cost_usd, list_cost_usd, cost_source, price_id, contract_id,
--   latency_ms, ttft_ms,
--   status_code, is_error, error_type, cache_hit, ingested_at
SELECT
    event_id, source, ts, team, project, user_id, api_key_id, tags, provider, model_requested,
    model, model_key, route, fallback_from, attempts, request_count, input_tokens, output_tokens,
    cached_input_tokens, cache_write_tokens, cache_write_1h_tokens, reasoning_tokens,
    service_tier, reported_cost_usd, cost_usd, list_cost_usd, cost_source, price_id, contract_id,
    latency_ms, ttft_ms,
    status_code, is_error, error_type, cache_hit, ingested_at
FROM usage_events
WHERE ts >= $from::TIMESTAMP
  AND ts < $to::TIMESTAMP
ORDER BY ts, source, event_id
