-- reconciliation_records: the calls whose computed cost disagrees most with what the gateway
-- reported (the detail behind `reconciliation`).
--
-- Parameters:
--   $from, $to                 TIMESTAMP    half-open range [from, to), UTC
--   $limit                     BIGINT       how many calls
--   $f_<dimension>             VARCHAR[]    allowed values, or NULL for no filter (team, project,
--                                           user, api_key, provider, model, model_requested,
--                                           route, source, error_type; $f_status is INTEGER[])
--   $f_tag1_key … $f_tag3_key  VARCHAR      tag key to filter on, or NULL
--   $f_tag1_values …           VARCHAR[]    its allowed values
--
-- Result columns: source, event_id, ts, provider, model (model_key), gateway_model,
--   input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens,
--   computed_cost_usd, reported_cost_usd, difference_usd, price_id
SELECT
    source,
    event_id,
    ts,
    provider,
    model_key AS model,
    model AS gateway_model,
    input_tokens,
    cached_input_tokens,
    cache_write_tokens,
    output_tokens,
    reasoning_tokens,
    cost_usd AS computed_cost_usd,
    reported_cost_usd,
    (cost_usd - reported_cost_usd)::DECIMAL(38, 12) AS difference_usd,
    price_id
FROM usage_events
WHERE cost_source = 'catalog'
      AND reported_cost_usd IS NOT NULL
      AND cost_usd <> reported_cost_usd
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
ORDER BY abs(cost_usd - reported_cost_usd) DESC, ts, source, event_id
LIMIT $limit::BIGINT
