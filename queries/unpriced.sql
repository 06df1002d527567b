-- unpriced: models the catalog has no price for — how many calls and tokens they carry, what the
-- gateways said they cost, and when they were first and last seen. `cost_source` says how they
-- are counted: `unpriced` (no cost at all, never $0) or `reported` (the gateway's own figure,
-- unchecked). Add a price (POST /v1/prices) and re-price (POST /v1/admin/reprice) to account them
-- from the catalog.
--
-- Parameters:
--   $from, $to                 TIMESTAMP    half-open range [from, to), UTC
--   $f_<dimension>             VARCHAR[]    allowed values, or NULL for no filter (team, project,
--                                           user, api_key, provider, model, model_requested,
--                                           route, source, error_type; $f_status is INTEGER[])
--   $f_tag1_key … $f_tag3_key  VARCHAR      tag key to filter on, or NULL
--   $f_tag1_values …           VARCHAR[]    its allowed values
--
-- Result columns: provider, model (model_key), source, cost_source, gateway_models (the gateways' own model
--   strings, comma-separated), requests, records, input_tokens, output_tokens,
--   reported_cost_usd, first_seen, last_seen
SELECT
    provider,
    model_key AS model,
    source,
    cost_source,
    string_agg(DISTINCT model, ', ' ORDER BY model) AS gateway_models,
    sum(request_count)::BIGINT AS requests,
    count(*)::BIGINT AS records,
    sum(input_tokens)::BIGINT AS input_tokens,
    sum(output_tokens)::BIGINT AS output_tokens,
    sum(reported_cost_usd)::DECIMAL(38, 12) AS reported_cost_usd,
    min(ts) AS first_seen,
    max(ts) AS last_seen
FROM usage_events
WHERE cost_source IN ('unpriced', 'reported')
      AND ts >= $from::TIMESTAMP
      AND ts < $to::TIMESTAMP
      AND ($f_team::VARCHAR[] IS NULL OR list_contains($f_team::VARCHAR[], team))
      AND ($f_project::VARCHAR[] IS NULL OR list_contains($f_project::VARCHAR[], project))
      AND ($f_user::VARCHAR[] IS NULL OR list_contains($f_user::VARCHAR[], user_id))
      AND ($f_api_key::VARCHAR[] IS NULL OR list_contains($f_api_key::VARCHAR[], api_key_id))
      AND ($f_provider::VARCHAR[] IS NULL OR list_contains($f_provider::VARCHAR[], provider))
      AND ($f_model::VARCHAR[] IS NULL OR list_contains($f_model::VARCHAR[], model_key))
      AND ($f_model_requested::VARCHAR[] IS NULL OR list_contains($f_model_requested::VARCHAR[], model_requested))
      AND ($f_route::VARCHAR[] IS NULL OR list_contains($f_route::VARCHAR[], route))
      AND ($f_source::VARCHAR[] IS NULL OR list_contains($f_source::VARCHAR[], source))
      AND ($f_status::INTEGER[] IS NULL OR list_contains($f_status::INTEGER[], status_code))
      AND ($f_error_type::VARCHAR[] IS NULL OR list_contains($f_error_type::VARCHAR[], error_type))
      AND ($f_tag1_key::VARCHAR IS NULL OR list_contains($f_tag1_values::VARCHAR[], tags[$f_tag1_key::VARCHAR]))
      AND ($f_tag2_key::VARCHAR IS NULL OR list_contains($f_tag2_values::VARCHAR[], tags[$f_tag2_key::VARCHAR]))
      AND ($f_tag3_key::VARCHAR IS NULL OR list_contains($f_tag3_values::VARCHAR[], tags[$f_tag3_key::VARCHAR]))
GROUP BY provider, model_key, source, cost_source
ORDER BY cost_source DESC, requests DESC, provider, model
