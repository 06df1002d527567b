-- lake_days: a fingerprint of each UTC day of a range, so the Parquet lake rewrites exactly the
-- days that changed (new days, late arrivals, re-priced events).
--
-- Parameters:
--   $from, $to    TIMESTAMP  half-open range [from, to), UTC midnights
--   $scope_team   VARCHAR    the team an API key is scoped to; NULL for all
--
-- Result columns:
--   day               DATE     the UTC day
--   events            BIGINT   its events
--   cost_usd          VARCHAR  the exact sum of cost_usd (NULL when nothing is priced)
--   last_ingested_at  TIMESTAMP
--   content_hash      UBIGINT  an order-independent hash of every exported column of every
--                              event (bit_xor of row hashes): a re-price, which changes cost in
--                              place without a new ingested_at, changes it
SELECT
    CAST(ts AS DATE) AS day,
    count(*) AS events,
    CAST(sum(cost_usd) AS VARCHAR) AS cost_usd,
    max(ingested_at) AS last_ingested_at,
    bit_xor(hash(
        event_id, source, ts, team, project, user_id, api_key_id, tags, provider, model_requested,
        model, model_key, route, fallback_from, attempts, request_count, input_tokens,
        output_tokens, cached_input_tokens, cache_write_tokens, cache_write_1h_tokens,
        reasoning_tokens, service_tier, reported_cost_usd, cost_usd, list_cost_usd, cost_source,
        price_id, contract_id, latency_ms, ttft_ms, status_code, is_error, error_type, cache_hit,
        ingested_at)) AS content_hash
FROM usage_events
WHERE ts >= $from::TIMESTAMP
  AND ts < $to::TIMESTAMP
  AND ($scope_team::VARCHAR IS NULL OR team = $scope_team::VARCHAR)
GROUP BY day
ORDER BY day
