-- 0002_rollups: what caching saved per event, the hourly rollup every standard report reads, the
-- FOCUS line ledger, and budgets.

-- Prompt-cache savings (reads minus the write premium) and gateway response-cache savings, at
-- contracted rates; NULL when the call is not priced from the catalog.
ALTER TABLE usage_events ADD COLUMN cache_savings_usd DECIMAL(38,12);
ALTER TABLE usage_events ADD COLUMN cache_hit_savings_usd DECIMAL(38,12);

-- One row per UTC hour × attribution dimensions, maintained by the writer in the same
-- transaction as the events (and rebuilt for the hours a re-price touches). `rollup_key` is the
-- 128-bit MD5 of the hour and the dimensions, so an upsert finds its row through the primary-key
-- index without scanning the table. User, API key and tags are not rolled up: reports that
-- group or filter by them read the events.
CREATE TABLE rollup_hourly (
    rollup_key            UHUGEINT      PRIMARY KEY,
    hour                  TIMESTAMP     NOT NULL,
    source                VARCHAR       NOT NULL,
    team                  VARCHAR       NOT NULL,
    project               VARCHAR,
    provider              VARCHAR       NOT NULL,
    model_key             VARCHAR       NOT NULL,
    model_requested       VARCHAR       NOT NULL,
    route                 VARCHAR,
    fallback_from         VARCHAR,
    status_code           SMALLINT      NOT NULL,
    error_type            VARCHAR,
    cost_source           VARCHAR       NOT NULL,
    service_tier          VARCHAR       NOT NULL,
    cache_hit             BOOLEAN       NOT NULL,
    requests              BIGINT        NOT NULL,
    records               BIGINT        NOT NULL,
    errors                BIGINT        NOT NULL,
    attempts              BIGINT        NOT NULL,
    input_tokens          BIGINT        NOT NULL,
    output_tokens         BIGINT        NOT NULL,
    cached_input_tokens   BIGINT        NOT NULL,
    cache_write_tokens    BIGINT        NOT NULL,
    cache_write_1h_tokens BIGINT        NOT NULL,
    reasoning_tokens      BIGINT        NOT NULL,
    cost_usd              DECIMAL(38,12),
    list_cost_usd         DECIMAL(38,12),
    reported_cost_usd     DECIMAL(38,12),
    reported_requests     BIGINT        NOT NULL,
    unpriced_requests     BIGINT        NOT NULL,
    cache_savings_usd     DECIMAL(38,12),
    cache_hit_savings_usd DECIMAL(38,12),
    latency_ms_sum        DOUBLE        NOT NULL,
    latency_count         BIGINT        NOT NULL,
    ttft_ms_sum           DOUBLE        NOT NULL,
    ttft_count            BIGINT        NOT NULL
);

-- The FOCUS ledger: priced lines summed per UTC day × team × project × provider × model × price
-- × contract × meter × unit price, as billed at ingest. Re-pricing never edits a line: it adds
-- correction lines (charge_class 'Correction'), which reverse the old amounts and add the new
-- ones. `line_key` hashes every other key column.
CREATE TABLE focus_lines (
    line_key              DECIMAL(38,0) PRIMARY KEY,
    charge_day            TIMESTAMP     NOT NULL,
    billing_month         TIMESTAMP     NOT NULL,
    charge_class          VARCHAR       NOT NULL,
    source                VARCHAR       NOT NULL,
    team                  VARCHAR       NOT NULL,
    project               VARCHAR,
    provider              VARCHAR       NOT NULL,
    model_key             VARCHAR       NOT NULL,
    price_id              VARCHAR,
    contract_id           VARCHAR,
    meter                 VARCHAR       NOT NULL,
    service_tier          VARCHAR       NOT NULL,
    above_input_tokens    BIGINT        NOT NULL,
    list_unit_price       DECIMAL(38,18),
    contracted_unit_price DECIMAL(38,18),
    quantity              BIGINT        NOT NULL,
    requests              BIGINT        NOT NULL,
    list_cost_usd         DECIMAL(38,18) NOT NULL,
    contracted_cost_usd   DECIMAL(38,18) NOT NULL,
    unpriced_requests     BIGINT        NOT NULL
);

-- Budgets: an amount per month or day for a team, project, API key, user or tag, in the
-- budget's own time zone.
CREATE TABLE budgets (
    budget_id      VARCHAR   PRIMARY KEY,
    spec           VARCHAR   NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
