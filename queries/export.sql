-- export: the canonical events of a time range, oldest first. Read a window at a time (see
-- export_hours.sql), so an export of any size holds one window in memory.
--
-- Parameters:
--   $from, $to    TIMESTAMP  half-open range [from, to), UTC
--   $team         VARCHAR    only this team; NULL for all
--   $scope_team   VARCHAR    the team an API key is scoped to; NULL for all
--   $source       VARCHAR    only this source (format); NULL for all
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
  AND ($team::VARCHAR IS NULL OR team = $team::VARCHAR)
  AND ($scope_team::VARCHAR IS NULL OR team = $scope_team::VARCHAR)
  AND ($source::VARCHAR IS NULL OR source = $source::VARCHAR)
ORDER BY ts, source, event_id
