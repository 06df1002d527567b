-- focus: FinOps FOCUS 1.2 cost and usage rows (with the 1.3 ServiceProviderName and
-- HostProviderName, and `x_` extensions), one per UTC charge day × team × project × provider ×
-- model × price × meter × unit price, from the line ledger `focus_lines`. Quantities are tokens
-- (or requests for per-call fees) and unit prices are per token, so
-- ListCost = ListUnitPrice × PricingQuantity and ContractedCost = ContractedUnitPrice ×
-- PricingQuantity hold exactly. Re-pricing appears as separate rows with ChargeClass
-- 'Correction' (reversing the old lines, adding the new ones, so that quantities per meter
-- net out) billed in the month of the re-price. Calls without priced lines (reported cost,
-- unpriced, response-cache hits) are Requests rows at their amount per request; unpriced calls
-- are rows of cost 0 with x_UnpricedRequests > 0, never hidden. A correction whose old lines
-- could not be priced again (the entry that priced them is gone) reverses the amount only, with
-- null quantity and unit prices.
--
-- Parameters:
--   $from, $to                  TIMESTAMP  charge days in [from, to), UTC
--   $billing_account_id         VARCHAR    BillingAccountId
--   $billing_account_name       VARCHAR    BillingAccountName
--   $f_team, $f_project, $f_provider, $f_model, $f_source
--                               VARCHAR[]  allowed values, or NULL for no filter
--
-- Result columns: the FOCUS 1.2 mandatory columns (BilledCost … ServiceName), the recommended
--   and conditional ones the ledger knows, ServiceProviderName, HostProviderName, then x_Source,
--   x_ModelKey, x_Requests, x_UnpricedRequests, x_ContractId, x_CostSource.
WITH providers (provider, provider_name, service_name, host_provider_name) AS (
    VALUES
        ('openai', 'OpenAI', 'OpenAI API', 'OpenAI'),
        ('anthropic', 'Anthropic', 'Anthropic API', 'Anthropic'),
        ('bedrock', 'Amazon Web Services', 'Amazon Bedrock', 'Amazon Web Services'),
        ('vertex_ai', 'Google Cloud', 'Vertex AI', 'Google Cloud'),
        ('gemini', 'Google', 'Gemini API', 'Google'),
        ('azure', 'Microsoft', 'Azure OpenAI Service', 'Microsoft'),
        ('azure_ai', 'Microsoft', 'Azure AI Foundry Models', 'Microsoft'),
        ('mistral', 'Mistral AI', 'Mistral AI API', 'Mistral AI'),
        ('cohere', 'Cohere', 'Cohere API', 'Cohere'),
        ('groq', 'Groq', 'GroqCloud', 'Groq'),
        ('together_ai', 'Together AI', 'Together AI API', 'Together AI'),
        ('fireworks_ai', 'Fireworks AI', 'Fireworks AI API', 'Fireworks AI'),
        ('deepinfra', 'DeepInfra', 'DeepInfra API', 'DeepInfra'),
        ('deepseek', 'DeepSeek', 'DeepSeek API', 'DeepSeek'),
        ('xai', 'xAI', 'xAI API', 'xAI'),
        ('perplexity', 'Perplexity', 'Perplexity API', 'Perplexity'),
        ('openrouter', 'OpenRouter', 'OpenRouter', 'OpenRouter'),
        ('workers_ai', 'Cloudflare', 'Workers AI', 'Cloudflare'),
        ('self_hosted', 'Self-hosted', 'Self-hosted models', 'Self-hosted')
),
-- A line can have several rows until the writer compacts its day (`focus_compact.sql`): sum them.
lines AS (
    SELECT
        * EXCLUDE (line_key, quantity, requests, list_cost_usd, contracted_cost_usd, unpriced_requests),
        sum(quantity)::BIGINT AS quantity,
        sum(requests)::BIGINT AS requests,
        sum(list_cost_usd)::DECIMAL(38, 18) AS list_cost_usd,
        sum(contracted_cost_usd)::DECIMAL(38, 18) AS contracted_cost_usd,
        sum(unpriced_requests)::BIGINT AS unpriced_requests
    FROM focus_lines
    WHERE charge_day >= $from::TIMESTAMP
      AND charge_day < $to::TIMESTAMP
      AND ($f_team::VARCHAR[] IS NULL OR list_contains($f_team::VARCHAR[], team))
      AND ($f_project::VARCHAR[] IS NULL OR list_contains($f_project::VARCHAR[], project))
      AND ($f_provider::VARCHAR[] IS NULL OR list_contains($f_provider::VARCHAR[], provider))
      AND ($f_model::VARCHAR[] IS NULL OR list_contains($f_model::VARCHAR[], model_key))
      AND ($f_source::VARCHAR[] IS NULL OR list_contains($f_source::VARCHAR[], source))
    GROUP BY ALL
)
SELECT
    l.contracted_cost_usd AS BilledCost,
    $billing_account_id::VARCHAR AS BillingAccountId,
    $billing_account_name::VARCHAR AS BillingAccountName,
    'USD' AS BillingCurrency,
    strftime(l.billing_month + INTERVAL 1 MONTH, '%Y-%m-%dT%H:%M:%SZ') AS BillingPeriodEnd,
    strftime(l.billing_month, '%Y-%m-%dT%H:%M:%SZ') AS BillingPeriodStart,
    'Usage' AS ChargeCategory,
    nullif(l.charge_class, '') AS ChargeClass,
    concat(l.model_key, ' ', lower(l.meter), ', team ', l.team) AS ChargeDescription,
    strftime(l.charge_day + INTERVAL 1 DAY, '%Y-%m-%dT%H:%M:%SZ') AS ChargePeriodEnd,
    strftime(l.charge_day, '%Y-%m-%dT%H:%M:%SZ') AS ChargePeriodStart,
    l.contracted_cost_usd AS ContractedCost,
    l.contracted_cost_usd AS EffectiveCost,
    CASE WHEN l.source = 'openrouter' THEN 'OpenRouter' ELSE coalesce(p.provider_name, l.provider) END
        AS InvoiceIssuerName,
    l.list_cost_usd AS ListCost,
    -- A correction that reverses an amount it cannot split into priced lines has no quantity.
    CASE WHEN l.list_unit_price IS NULL AND l.charge_class = 'Correction' THEN NULL ELSE l.quantity END
        AS PricingQuantity,
    CASE WHEN l.meter = 'Requests' THEN 'Requests' ELSE 'Tokens' END AS PricingUnit,
    coalesce(p.provider_name, l.provider) AS ProviderName,
    CASE
        WHEN l.model_key LIKE 'claude%' THEN 'Anthropic'
        WHEN l.model_key LIKE 'gpt%' OR l.model_key LIKE 'o1%' OR l.model_key LIKE 'o3%'
            OR l.model_key LIKE 'o4%' OR l.model_key LIKE 'text-embedding%' OR l.model_key LIKE 'chatgpt%'
            THEN 'OpenAI'
        WHEN l.model_key LIKE 'gemini%' OR l.model_key LIKE 'gemma%' THEN 'Google'
        WHEN l.model_key LIKE 'llama%' THEN 'Meta'
        WHEN l.model_key LIKE 'mistral%' OR l.model_key LIKE 'mixtral%' OR l.model_key LIKE 'codestral%'
            OR l.model_key LIKE 'ministral%' THEN 'Mistral AI'
        WHEN l.model_key LIKE 'command%' THEN 'Cohere'
        WHEN l.model_key LIKE 'deepseek%' THEN 'DeepSeek'
        WHEN l.model_key LIKE 'grok%' THEN 'xAI'
        WHEN l.model_key LIKE 'nova%' OR l.model_key LIKE 'titan%' THEN 'Amazon'
        WHEN l.model_key LIKE 'qwen%' THEN 'Alibaba Cloud'
        ELSE coalesce(p.provider_name, l.provider)
    END AS PublisherName,
    'AI and Machine Learning' AS ServiceCategory,
    coalesce(p.service_name, l.provider) AS ServiceName,
    'Usage-Based' AS ChargeFrequency,
    'Generative AI' AS ServiceSubcategory,
    CASE WHEN l.list_unit_price IS NULL AND l.charge_class = 'Correction' THEN NULL ELSE l.quantity END
        AS ConsumedQuantity,
    CASE WHEN l.meter = 'Requests' THEN 'Requests' ELSE 'Tokens' END AS ConsumedUnit,
    l.contracted_unit_price AS ContractedUnitPrice,
    l.list_unit_price AS ListUnitPrice,
    CASE WHEN l.service_tier IN ('priority', 'flex') THEN 'Dynamic' ELSE 'Standard' END AS PricingCategory,
    'USD' AS PricingCurrency,
    concat(l.provider, '/', l.model_key) AS SkuId,
    l.meter AS SkuMeter,
    json_object('service_tier', l.service_tier, 'above_input_tokens', l.above_input_tokens)::VARCHAR
        AS SkuPriceDetails,
    l.price_id AS SkuPriceId,
    l.team AS SubAccountId,
    l.team AS SubAccountName,
    'Team' AS SubAccountType,
    json_object('team', l.team, 'project', l.project)::VARCHAR AS Tags,
    coalesce(p.provider_name, l.provider) AS ServiceProviderName,
    coalesce(p.host_provider_name, l.provider) AS HostProviderName,
    l.source AS x_Source,
    l.model_key AS x_ModelKey,
    l.requests AS x_Requests,
    l.unpriced_requests AS x_UnpricedRequests,
    l.contract_id AS x_ContractId,
    CASE
        WHEN l.price_id IS NOT NULL THEN 'catalog'
        WHEN l.unpriced_requests <> 0 THEN 'unpriced'
        ELSE 'reported'
    END AS x_CostSource
FROM lines l
LEFT JOIN providers p ON p.provider = l.provider
ORDER BY ChargePeriodStart, ChargeClass NULLS FIRST, SubAccountId, ProviderName, x_ModelKey, SkuMeter, SkuPriceId
